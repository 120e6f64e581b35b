// The UTF-8 checks that spare a one-shot node:buffer (src/protocol/utf8.ts) must agree with it:
// utf8Length decides whether `-m TEXT` is small enough for the one-shot, and isAscii lets a read
// skip the native isUtf8.
import { describe, expect, test } from "bun:test";
import { isUtf8 as nativeIsUtf8 } from "node:buffer";
import { isAscii, isUtf8, utf8Length } from "../src/protocol/utf8.ts";

const TRICKY = [
  "",
  "hi",
  "é",
  "こんにちは",
  "emoji 😀 and more",
  "\u{10ffff}",
  "\ud800", // a lone high surrogate: sent as U+FFFD, 3 bytes
  "\udc00x", // a lone low surrogate
  "a\ud83d", // a high surrogate at the very end
  "\ud83d\ud83d\ude00", // a lone high one, then a pair
  "\u007f\u0080\u07ff\u0800\uffff",
];

describe("utf8Length", () => {
  test("counts what Buffer.byteLength counts, lone surrogates included", () => {
    for (const text of TRICKY)
      expect({ text, length: utf8Length(text) }).toEqual({ text, length: Buffer.byteLength(text) });
  });

  test("agrees with Buffer.byteLength on random UTF-16, surrogates and all", () => {
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let round = 0; round < 2000; round++) {
      const units = Array.from({ length: next() % 12 }, () => {
        const pick = next() % 4;
        return pick === 0 ? next() % 0x80 : pick === 1 ? 0xd800 + (next() % 0x800) : next() % 0x10000;
      });
      const text = String.fromCharCode(...units);
      expect({ units, length: utf8Length(text) }).toEqual({ units, length: Buffer.byteLength(text) });
    }
  });
});

describe("isAscii and isUtf8", () => {
  test("isUtf8 is node:buffer's answer", () => {
    for (const bytes of [[0x68, 0x69], [0xc3, 0xa9], [0xc3], [0xff], [0xed, 0xa0, 0x80], []]) {
      const input = Uint8Array.from(bytes);
      expect({ bytes, valid: isUtf8(input) }).toEqual({ bytes, valid: nativeIsUtf8(input) });
    }
  });

  test("isAscii says yes only for short all-ASCII input, which is valid UTF-8", () => {
    expect(isAscii(new TextEncoder().encode("Message 'hi' received successfully\n"))).toBe(true);
    expect(isAscii(Uint8Array.from([0x68, 0x80]))).toBe(false);
    // Longer input is left to the native check.
    expect(isAscii(new Uint8Array(65).fill(0x61))).toBe(false);
    expect(isAscii(new Uint8Array(64).fill(0x61))).toBe(true);
    // Unless the caller says how long it may be (the one-shot: any length).
    expect(isAscii(new Uint8Array(65).fill(0x61), 65)).toBe(true);
    expect(isAscii(new Uint8Array(100_000).fill(0x61), Number.POSITIVE_INFINITY)).toBe(true);
    expect(isAscii(Uint8Array.from([...new Uint8Array(100).fill(0x61), 0xc3, 0xa9]), Number.POSITIVE_INFINITY)).toBe(
      false,
    );
  });
});
