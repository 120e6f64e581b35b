// Escaping for the operator's terminal (src/output/escape.ts): what a client sends is shown, never
// played. Checked against the spec's list of characters a terminal acts on and against an
// unescaper written independently in the tests (helpers/spec.ts).
import { describe, expect, test } from "bun:test";
import { seededRandom } from "../harness/random.ts";
import { escapeForTerminal, escapeJsonForTerminal } from "../src/output/escape.ts";
import { TERMINAL_CONTROLS, unescapeLogged } from "./helpers/spec.ts";

describe("escapeForTerminal", () => {
  test.each([
    ["plain text", "plain text"],
    ["ñ€😀 日本語", "ñ€😀 日本語"],
    ["", ""],
    ["tab\there", "tab\\there"],
    ["new\nline", "new\\nline"],
    ["carriage\rreturn", "carriage\\rreturn"],
    ["back\\slash", "back\\\\slash"],
    ["literal \\x1b", "literal \\\\x1b"],
    ["\x1b[2J", "\\x1b[2J"],
    ["nul\0", "nul\\x00"],
    ["bell\x07", "bell\\x07"],
    ["del\x7f", "del\\x7f"],
    ["C1 CSI \u009b31m", "C1 CSI \\x9b31m"],
    ["NEL \u0085", "NEL \\x85"],
    ["line sep \u2028 para sep \u2029", "line sep \\u2028 para sep \\u2029"],
    ["bidi \u202eevil\u202c", "bidi \\u202eevil\\u202c"],
    ["isolate \u2066x\u2069", "isolate \\u2066x\\u2069"],
  ])("%j is shown as %j", (text, shown) => {
    expect(escapeForTerminal(text)).toBe(shown);
  });

  test("random text: nothing a terminal acts on survives, and the escapes read back to the text", () => {
    const random = seededRandom(2026);
    // Heavy on the characters that matter, with ordinary ones between them.
    const alphabet = [
      ..."abc ñ€😀\\x",
      ...Array.from({ length: 0x20 }, (_, code) => String.fromCharCode(code)),
      ...Array.from({ length: 0x21 }, (_, i) => String.fromCharCode(0x7f + i)),
      "\u2028",
      "\u2029",
      "\u202a",
      "\u202e",
      "\u2066",
      "\u2069",
    ];
    for (let i = 0; i < 500; i++) {
      const text = Array.from({ length: random.int(40) }, () => random.pick(alphabet)).join("");
      const shown = escapeForTerminal(text);
      expect({ text, shown, controls: TERMINAL_CONTROLS.test(shown) }).toEqual({ text, shown, controls: false });
      expect(shown).not.toContain("\n");
      expect(unescapeLogged(shown)).toBe(text);
    }
  });
});

describe("escapeJsonForTerminal", () => {
  test("JSON stays the same JSON, with what JSON.stringify leaves raw written as \\u escapes", () => {
    const message = "del\x7f csi\u009b sep\u2028 bidi\u202e iso\u2066 esc\x1b tab\t";
    const json = escapeJsonForTerminal(JSON.stringify({ message }));
    expect(json).toBe('{"message":"del\\u007f csi\\u009b sep\\u2028 bidi\\u202e iso\\u2066 esc\\u001b tab\\t"}');
    expect(json).not.toMatch(TERMINAL_CONTROLS);
    expect(JSON.parse(json)).toEqual({ message });
  });

  test("plain JSON is unchanged", () => {
    const json = JSON.stringify({ peer: "127.0.0.1:5000", message: "hello ñ😀" });
    expect(escapeJsonForTerminal(json)).toBe(json);
  });
});
