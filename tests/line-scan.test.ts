// The client counts its messages and checks its acks with src/protocol/line-scan.ts: indexOf for
// small inputs, the WebAssembly module for large ones. A miscount there is a run that hangs (an ack
// it thinks is still owed) or exits 0 with acks missing, so both paths must agree with a plain
// reference at every length, alignment and window edge.
import { describe, expect, test } from "bun:test";
import { lineScanModuleSource, WASM_TS_PATH } from "../scripts/wasm.ts";
import { countLineBreaks, countPrefixedLines, lineScanUsesWasm } from "../src/protocol/line-scan.ts";
import { ACK_PREFIX, ackFor, countAcks } from "../src/protocol/messages.ts";

const LF = 0x0a;
const MIB = 1024 * 1024;
const bytesOf = (text: string) => Buffer.from(text, "latin1");

/** The count, by the most obvious means. */
function referenceLineBreaks(bytes: Uint8Array): number {
  let count = 0;
  for (const byte of bytes) if (byte === LF) count++;
  return count;
}

function referencePrefixedLines(bytes: Uint8Array, prefix: Uint8Array): number {
  const text = Buffer.from(bytes).toString("latin1");
  const wanted = Buffer.from(prefix).toString("latin1");
  const lines = text.split("\n");
  if (lines.pop() !== "" || lines.length === 0) return -1;
  return lines.every((line) => line.startsWith(wanted)) ? lines.length : -1;
}

function random(seed: number): () => number {
  return () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
}

/** Random bytes, LF in about one of `every`, and its neighbours 0x0b, 0x8a, 0x09 often too. */
function randomBytes(next: () => number, length: number, every: number): Uint8Array {
  const tricky = [LF, 0x0b, 0x8a, 0x09, 0xff, 0x00];
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = next() % every === 0 ? tricky[next() % tricky.length]! : next() % 256;
  return bytes;
}

/** A stream of acks of random messages (empty ones and ones that look like acks included). */
function ackStream(next: () => number, minBytes: number): Buffer {
  const messages = ["", "x", ACK_PREFIX, "Message", "a\u00e9b", ackFor("inner")];
  let text = "";
  while (text.length < minBytes) {
    const pick = next() % 10;
    text += `${ackFor(pick < messages.length ? messages[pick]! : "m".repeat(next() % 200))}\n`;
  }
  return Buffer.from(text);
}

test("line-scan-wasm.ts is what `bun run wasm` makes of line-scan.wat", async () => {
  expect(await Bun.file(WASM_TS_PATH).text()).toBe(await lineScanModuleSource());
});

test("large inputs are scanned by the WebAssembly module on this runtime", () => {
  expect(lineScanUsesWasm()).toBe(true);
});

describe("countLineBreaks", () => {
  test("counts every LF, at lengths and offsets on both sides of the module's threshold", () => {
    const next = random(11);
    const backing = randomBytes(next, 70_000, 7);
    for (const length of [0, 1, 15, 16, 17, 31, 4095, 4096, 4097, 4111, 65_537]) {
      for (const offset of [0, 1, 3, 8, 15]) {
        const view = backing.subarray(offset, offset + length);
        expect({ length, offset, count: countLineBreaks(view) }).toEqual({
          length,
          offset,
          count: referenceLineBreaks(view),
        });
      }
    }
  });

  test("counts inputs of nothing but LFs, and with none", () => {
    expect(countLineBreaks(new Uint8Array(5000).fill(LF))).toBe(5000);
    expect(countLineBreaks(new Uint8Array(5000).fill(0x0b))).toBe(0);
    const ends = new Uint8Array(8192);
    ends[0] = LF;
    ends[8191] = LF;
    expect(countLineBreaks(ends)).toBe(2);
  });

  test("counts inputs larger than the module's window (1 MiB) across the edge", () => {
    const next = random(5);
    const big = randomBytes(next, 3 * MIB + 17, 40);
    big[MIB - 1] = LF;
    big[MIB] = LF;
    expect(countLineBreaks(big)).toBe(referenceLineBreaks(big));
  });

  test("agrees with the reference on random inputs", () => {
    const next = random(23);
    for (let round = 0; round < 200; round++) {
      const bytes = randomBytes(next, next() % 20_000, 1 + (next() % 60));
      expect(countLineBreaks(bytes)).toBe(referenceLineBreaks(bytes));
    }
  });
});

describe("countPrefixedLines", () => {
  const prefix = bytesOf(ACK_PREFIX);

  test("counts a stream of acks, small and large, at every offset", () => {
    const next = random(3);
    for (const minBytes of [1, 100, 4000, 5000, 70_000]) {
      const acks = ackStream(next, minBytes);
      for (let cut = 0; cut < 20; cut++) {
        // Whole lines from the start: cut at the LF nearest a random point.
        const end = acks.indexOf(LF, next() % acks.length) + 1;
        const view = acks.subarray(0, end);
        expect(countPrefixedLines(view, prefix)).toBe(referencePrefixedLines(view, prefix));
        expect(countPrefixedLines(view, prefix)).toBeGreaterThan(0);
      }
    }
  });

  test("says -1 when any line, first, middle or last, lacks the prefix", () => {
    const next = random(17);
    for (const minBytes of [300, 9000, 70_000]) {
      const acks = ackStream(next, minBytes);
      const starts = [0];
      for (let i = acks.indexOf(LF); i !== -1 && i + 1 < acks.length; i = acks.indexOf(LF, i + 1)) starts.push(i + 1);
      for (const line of [0, 1, starts.length - 1, next() % starts.length]) {
        for (const at of [0, 4, ACK_PREFIX.length - 1]) {
          const broken = Buffer.from(acks);
          const index = starts[line]! + at;
          broken[index] = broken[index]! ^ 0x20;
          expect({ minBytes, line, at, count: countPrefixedLines(broken, prefix) }).toEqual({
            minBytes,
            line,
            at,
            count: -1,
          });
        }
      }
    }
  });

  test("says -1 for lines shorter than the prefix, a missing last LF, and no bytes", () => {
    const acks = ackStream(random(9), 6000);
    for (const tail of ["Messag\n", "\n", "M\n", "Message \n"])
      expect({ tail, count: countPrefixedLines(Buffer.concat([acks, bytesOf(tail)]), prefix) }).toEqual({
        tail,
        count: -1,
      });
    expect(countPrefixedLines(acks.subarray(0, acks.length - 1), prefix)).toBe(-1);
    expect(countPrefixedLines(new Uint8Array(0), prefix)).toBe(-1);
    // A line that is the prefix and nothing else is an ack-shaped line.
    const bare = Buffer.concat([acks, bytesOf(`${ACK_PREFIX}\n`)]);
    expect(countPrefixedLines(bare, prefix)).toBe(referencePrefixedLines(bare, prefix));
  });

  test("takes inputs larger than the window, and a single line longer than it", () => {
    const acks = ackStream(random(31), 2.5 * MIB);
    expect(countPrefixedLines(acks, prefix)).toBe(referencePrefixedLines(acks, prefix));
    const head = acks.subarray(0, acks.indexOf(LF, 5000) + 1);
    const long = Buffer.concat([head, Buffer.from(`${ackFor("z".repeat(1.5 * MIB))}\n`)]);
    expect(countPrefixedLines(long, prefix)).toBe(referencePrefixedLines(long, prefix));
    const longBroken = Buffer.concat([long, bytesOf("nope\n")]);
    expect(countPrefixedLines(longBroken, prefix)).toBe(-1);
  });

  test("works with prefixes of any length, inside the module's 8 to 16 bytes and outside", () => {
    const next = random(41);
    for (const wanted of ["ab", "Message", "Message ", "Message '", "0123456789abcdef", "0123456789abcdefg"]) {
      const lines: string[] = [];
      for (let i = 0; i < 800; i++) lines.push(wanted + "q".repeat(next() % 9));
      const good = bytesOf(`${lines.join("\n")}\n`);
      const bad = Buffer.from(good);
      // One byte of one line's prefix (the first line's, or a later one's) changed.
      const index = good.indexOf(LF, next() % (good.length - 1)) + 1 + (next() % wanted.length);
      bad[index % good.length] = bad[index % good.length]! ^ 1;
      for (const bytes of [good, bad])
        expect({ wanted, count: countPrefixedLines(bytes, bytesOf(wanted)) }).toEqual({
          wanted,
          count: referencePrefixedLines(bytes, bytesOf(wanted)),
        });
    }
  });
});

describe("countAcks", () => {
  test("counts the acks of a read, and refuses lines with a CR (they take the line-by-line path)", () => {
    const acks = ackStream(random(2), 9000);
    expect(countAcks(acks)).toBe(referencePrefixedLines(acks, bytesOf(ACK_PREFIX)));
    const withCr = Buffer.concat([bytesOf(`${ackFor("a")}\r\n`), acks]);
    expect(countAcks(withCr)).toBe(-1);
    const notice = Buffer.concat([acks, bytesOf("ERROR idle timeout\n")]);
    expect(countAcks(notice)).toBe(-1);
  });
});
