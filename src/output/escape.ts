// What a client sends must never drive the operator's terminal: control characters, escape
// sequences and bidirectional overrides are shown as visible escapes. A backslash is doubled so
// that the escaped form reads back unambiguously (a literal "\x1b" differs from an ESC byte).

// C0 controls, DEL, C1 controls, line/paragraph separators, bidi embeddings/overrides/isolates.
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\\]/g;
const UNSAFE_TEST = /[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\\]/;

const NAMED: Record<string, string> = {
  "\t": "\\t",
  "\n": "\\n",
  "\r": "\\r",
  "\\": "\\\\",
};

function escapeOne(char: string): string {
  const named = NAMED[char];
  if (named) return named;
  const code = char.charCodeAt(0);
  return code <= 0xff ? "\\x" + code.toString(16).padStart(2, "0") : "\\u" + code.toString(16).padStart(4, "0");
}

/** The message as it may be shown on a terminal: printable text unchanged, the rest escaped. */
export function escapeForTerminal(text: string): string {
  // Most messages are plain: one test avoids building a new string for them.
  return UNSAFE_TEST.test(text) ? text.replace(UNSAFE, escapeOne) : text;
}
