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
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
}

/** The message as it may be shown on a terminal: printable text unchanged, the rest escaped. */
export function escapeForTerminal(text: string): string {
  // Most messages are plain: one test avoids building a new string for them.
  return UNSAFE_TEST.test(text) ? text.replace(UNSAFE, escapeOne) : text;
}

// JSON.stringify escapes C0 controls but leaves DEL, C1 controls (U+009B is a one-character CSI
// on some terminals), line separators and bidi controls raw: --json output can be on a terminal too.
const UNSAFE_IN_JSON = /[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const UNSAFE_IN_JSON_TEST = /[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/** JSON text with the characters a terminal acts on written as \uXXXX escapes (still the same JSON). */
export function escapeJsonForTerminal(json: string): string {
  return UNSAFE_IN_JSON_TEST.test(json)
    ? json.replace(UNSAFE_IN_JSON, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`)
    : json;
}
