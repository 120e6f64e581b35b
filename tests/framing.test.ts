import { describe, expect, test } from "bun:test";
import { LineDeframer, RawDeframer } from "../src/protocol/framing.ts";
import { ackFor, LineAckBuilder } from "../src/protocol/messages.ts";

/** Feeds `input` cut at the given byte offsets and returns the messages in order. */
function deframe(input: Buffer, cuts: number[], limit = 1024): { messages: string[]; ok: boolean; rest?: string } {
  const deframer = new LineDeframer(limit);
  const messages: string[] = [];
  let ok = true;
  let start = 0;
  for (const cut of [...cuts, input.length]) {
    ok = deframer.push(input.subarray(start, cut), (m) => messages.push(m)) && ok;
    start = cut;
  }
  return { messages, ok, rest: deframer.takeRest() };
}

describe("line framing", () => {
  const input = Buffer.from("hello\r\nwörld\n\nñ€😀\nlast", "utf8");
  const expected = ["hello", "wörld", "", "ñ€😀"];

  test("gives the same messages however the bytes are split into reads", () => {
    for (let a = 0; a <= input.length; a++) {
      for (let b = a; b <= input.length; b += 3) {
        const { messages, ok, rest } = deframe(input, [a, b]);
        expect({ messages, ok, rest, a, b }).toEqual({ messages: expected, ok: true, rest: "last", a, b });
      }
    }
  });

  test("one byte per read", () => {
    const cuts = Array.from({ length: input.length }, (_, i) => i);
    expect(deframe(input, cuts).messages).toEqual(expected);
  });

  test("drops only a CR right before LF; a lone CR stays in the message", () => {
    expect(deframe(Buffer.from("a\rb\r\n\r\r\n"), []).messages).toEqual(["a\rb", "\r"]);
  });

  test("invalid UTF-8 becomes U+FFFD", () => {
    expect(deframe(Buffer.from([0x61, 0xff, 0xc3, 0x0a]), []).messages).toEqual(["a\ufffd\ufffd"]);
  });

  test("a character cut short by LF ends at the LF, with many lines in one read", () => {
    const bytes = Buffer.from([0x61, 0xc3, 0x0a, 0x62, 0xe2, 0x82, 0x0d, 0x0a, 0xf0, 0x9f, 0x0a, 0x63, 0x0a]);
    expect(deframe(bytes, []).messages).toEqual(["a\ufffd", "b\ufffd", "\ufffd", "c"]);
  });

  test("NUL is an ordinary character", () => {
    expect(deframe(Buffer.from("a\0b\n"), []).messages).toEqual(["a\0b"]);
  });

  test("a message over the limit is refused after the messages before it", () => {
    const limit = 8;
    const { messages, ok } = deframe(Buffer.from("short\n123456789\nnext\n"), [3], limit);
    expect(ok).toBe(false);
    expect(messages).toEqual(["short"]);
  });

  test("a message exactly at the limit passes, with or without CR", () => {
    expect(deframe(Buffer.from("12345678\n12345678\r\n"), [4, 13], 8)).toEqual({
      messages: ["12345678", "12345678"],
      ok: true,
      rest: undefined,
    });
  });

  test("an unterminated line over the limit is refused before its LF arrives", () => {
    const deframer = new LineDeframer(16);
    expect(deframer.push(Buffer.alloc(10, 0x61), () => {})).toBe(true);
    expect(deframer.push(Buffer.alloc(10, 0x61), () => {})).toBe(false);
  });
});

describe("raw framing", () => {
  test("each read is one message, decoded on its own; nothing is held for the end of the stream", () => {
    const deframer = new RawDeframer(1024);
    const messages: string[] = [];
    const bytes = Buffer.from("ab€", "utf8");
    deframer.push(bytes.subarray(0, 3), (m) => messages.push(m));
    deframer.push(bytes.subarray(3), (m) => messages.push(m));
    // One read, one ack: a character cut by a read boundary cannot be carried into another
    // message without making an empty one (a read of a lone lead byte) or a late extra one.
    expect(messages).toEqual(["ab\ufffd", "\ufffd\ufffd"]);
    expect(deframer.takeRest()).toBeUndefined();
  });

  test("a read over the limit is refused", () => {
    expect(new RawDeframer(4).push(Buffer.from("12345"), () => {})).toBe(false);
  });
});

describe("acks made from bytes (a server that logs no messages)", () => {
  const acksOf = (...messages: string[]) => messages.map((message) => `${ackFor(message)}\n`).join("");

  test.each<[string, string[]]>([
    ["hi\n", ["hi"]],
    ["a\nb\n", ["a", "b"]],
    ["with CR\r\n", ["with CR"]],
    ["\r\n", [""]],
    ["\n\n", ["", ""]],
    ["inner\rCR\n", ["inner\rCR"]],
    ["héllo 😀\n", ["héllo 😀"]],
    ["\0\t\x1b[2J\n", ["\0\t\x1b[2J"]],
  ])("%j: the same bytes as the string path", (input, messages) => {
    const builder = new LineAckBuilder();
    const length = builder.build(Buffer.from(input));
    expect(builder.bytes.toString("utf8", 0, length)).toBe(acksOf(...messages));
    expect(builder.count).toBe(messages.length);
  });

  test("bytes that do not end a line are refused, not read past", () => {
    expect(LineAckBuilder.takes(Buffer.from("no LF"))).toBe(false);
    expect(LineAckBuilder.takes(Buffer.from(""))).toBe(false);
    expect(LineAckBuilder.takes(Buffer.from("a line\n"))).toBe(true);
  });

  test("invalid UTF-8 is left to the string path, which answers it with U+FFFD", () => {
    expect(LineAckBuilder.takes(Uint8Array.of(0x61, 0xff, 0x0a))).toBe(false);
    expect(LineAckBuilder.takes(Uint8Array.of(0xf0, 0x9f, 0x98, 0x0a))).toBe(false);
    // Past the short ASCII check, the full UTF-8 check.
    expect(LineAckBuilder.takes(Buffer.concat([Buffer.alloc(100, "a"), Uint8Array.of(0xff, 0x0a)]))).toBe(false);
    expect(LineAckBuilder.takes(Buffer.concat([Buffer.alloc(100, "é"), Uint8Array.of(0x0a)]))).toBe(true);
  });

  test("acks that do not fit one buffer come a buffer at a time, the same bytes in all, none over it", () => {
    const maxBytes = 1000;
    // Tiny messages (each ack 30 times its line), longer ones, CRLF, and a line whose ack alone
    // is over the buffer.
    const messages = [...Array.from({ length: 200 }, (_, i) => (i % 7 === 0 ? "" : `m${i}`)), "x".repeat(300), "é\r"];
    const input = Buffer.from(messages.map((message) => `${message}\n`).join(""));
    const builder = new LineAckBuilder(maxBytes);
    const pieces: Buffer[] = [];
    let count = 0;
    for (let from = 0; from < input.length; from = builder.next) {
      const length = builder.build(input, from);
      expect(length).toBeLessThanOrEqual(maxBytes);
      expect(builder.count).toBeGreaterThan(0);
      pieces.push(Buffer.from(builder.bytes.subarray(0, length)));
      count += builder.count;
    }
    expect(pieces.length).toBeGreaterThan(5);
    expect(Buffer.concat(pieces).toString()).toBe(acksOf(...messages.map((message) => message.replace(/\r$/, ""))));
    expect(count).toBe(messages.length);

    const long = Buffer.from(`${"y".repeat(2000)}\nafter\n`);
    expect(builder.build(long, 0)).toBe(0);
    expect({ count: builder.count, next: builder.next }).toEqual({ count: 0, next: 0 });
    const afterLong = 2001;
    expect(builder.bytes.toString("utf8", 0, builder.build(long, afterLong))).toBe(acksOf("after"));
  });

  test("the deframer hands over a read that is only complete lines whole, one line too (a lockstep read)", () => {
    const deframer = new LineDeframer(1024);
    const got: Array<[string, string]> = [];
    const onMessage = (text: string) => got.push(["message", text]);
    const onLines = (lines: Uint8Array) => got.push(["lines", Buffer.from(lines).toString()]);
    deframer.push(Buffer.from("ping\n"), onMessage, onLines);
    deframer.push(Buffer.from("a\nb\n"), onMessage, onLines);
    // A line begun in an earlier read is joined and decoded; a single line after it, too.
    deframer.push(Buffer.from("par"), onMessage, onLines);
    deframer.push(Buffer.from("t\nnext\n"), onMessage, onLines);
    expect(got).toEqual([
      ["lines", "ping\n"],
      ["lines", "a\nb\n"],
      ["message", "part"],
      ["message", "next"],
    ]);
  });

  test("a read larger than its buffer: it grows, up to its limit; past that, it stops at a line", () => {
    const lines = "x\n".repeat(20_000);
    const builder = new LineAckBuilder(2 * 1024 * 1024);
    const length = builder.build(Buffer.from(lines));
    expect(builder.bytes.toString("utf8", 0, length)).toBe(acksOf(...Array(20_000).fill("x")));
    expect(builder.count).toBe(20_000);
    expect(builder.next).toBe(lines.length);
    const small = new LineAckBuilder(64 * 1024);
    const part = small.build(Buffer.from(lines));
    const ack = acksOf("x");
    expect(small.count).toBe(Math.floor((64 * 1024) / ack.length));
    expect(part).toBe(small.count * ack.length);
    expect(small.next).toBe(small.count * 2);
  });
});
