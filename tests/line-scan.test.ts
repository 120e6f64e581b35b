// The client counts the messages it sends and checks the acks it gets with countLineBreaks and
// countAcks: the plain ones (framing.ts, messages.ts: an indexOf per line) for the one-shot and
// small reads, the bulk ones (line-scan.ts: the WebAssembly module) for large reads. A miscount is
// a run that hangs (an ack it thinks is still owed) or exits 0 with acks missing, so each must
// agree with an obvious reference at every length, alignment and window edge.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { lineScanModuleSource, WASM_TS_PATH } from "../scripts/wasm.ts";
import { countAcksInBulk, countLineBreaksInBulk, lineScanUsesWasm } from "../src/protocol/line-scan.ts";
import { ACK_PREFIX, ACK_SUFFIX, ackFor, countAcks, countLineBreaks } from "../src/protocol/messages.ts";

const LF = 0x0a;
const MIB = 1024 * 1024;
const bytesOf = (text: string) => Buffer.from(text, "latin1");

/** The count, by the most obvious means. */
function referenceLineBreaks(bytes: Uint8Array): number {
  let count = 0;
  for (const byte of bytes) if (byte === LF) count++;
  return count;
}

function referenceAcks(bytes: Uint8Array): number {
  const lines = Buffer.from(bytes).toString("latin1").split("\n");
  if (lines.pop() !== "" || lines.length === 0) return -1;
  const isAck = (line: string) =>
    line.length >= ACK_PREFIX.length + ACK_SUFFIX.length &&
    line.startsWith(ACK_PREFIX) &&
    line.endsWith(ACK_SUFFIX) &&
    !line.includes("\r");
  return lines.every(isAck) ? lines.length : -1;
}

/** Both ways of counting, which must give the same. */
const lineBreakCounters = { plain: countLineBreaks, bulk: countLineBreaksInBulk };
const ackCounters = { plain: countAcks, bulk: countAcksInBulk };

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

for (const [way, count] of Object.entries(lineBreakCounters)) {
  describe(`countLineBreaks, ${way}`, () => {
    test("counts every LF, at lengths and offsets on both sides of the module's threshold", () => {
      const next = random(11);
      const backing = randomBytes(next, 70_000, 7);
      for (const length of [0, 1, 15, 16, 17, 31, 4095, 4096, 4097, 4111, 65_537]) {
        for (const offset of [0, 1, 3, 8, 15]) {
          const view = backing.subarray(offset, offset + length);
          expect({ length, offset, count: count(view) }).toEqual({ length, offset, count: referenceLineBreaks(view) });
        }
      }
    });

    test("counts inputs of nothing but LFs, and with none", () => {
      expect(count(new Uint8Array(5000).fill(LF))).toBe(5000);
      expect(count(new Uint8Array(5000).fill(0x0b))).toBe(0);
      const ends = new Uint8Array(8192);
      ends[0] = LF;
      ends[8191] = LF;
      expect(count(ends)).toBe(2);
    });

    test("counts inputs larger than the module's window (1 MiB) across the edge", () => {
      const big = randomBytes(random(5), 3 * MIB + 17, 40);
      big[MIB - 1] = LF;
      big[MIB] = LF;
      expect(count(big)).toBe(referenceLineBreaks(big));
    });

    test("agrees with the reference on random inputs", () => {
      const next = random(23);
      for (let round = 0; round < 200; round++) {
        const bytes = randomBytes(next, next() % 20_000, 1 + (next() % 60));
        expect(count(bytes)).toBe(referenceLineBreaks(bytes));
      }
    });
  });
}

for (const [way, count] of Object.entries(ackCounters)) {
  describe(`countAcks, ${way}`, () => {
    test("counts a read of acks, small and large, cut after any line", () => {
      const next = random(3);
      for (const minBytes of [1, 100, 4000, 5000, 70_000]) {
        const acks = ackStream(next, minBytes);
        for (let cut = 0; cut < 20; cut++) {
          const view = acks.subarray(0, acks.indexOf(LF, next() % acks.length) + 1);
          expect(count(view)).toBe(referenceAcks(view));
          expect(count(view)).toBeGreaterThan(0);
        }
      }
    });

    test("says -1 when any line, first, middle or last, is not an ack", () => {
      const next = random(17);
      for (const minBytes of [300, 9000, 70_000]) {
        const acks = ackStream(next, minBytes);
        const starts = [0];
        for (let i = acks.indexOf(LF); i !== -1 && i + 1 < acks.length; i = acks.indexOf(LF, i + 1)) starts.push(i + 1);
        for (const line of [0, 1, starts.length - 1, next() % starts.length]) {
          // A byte of the prefix, or of the suffix (counted back from the line's LF).
          for (const at of [0, 4, ACK_PREFIX.length - 1, -2, -ACK_SUFFIX.length]) {
            const broken = Buffer.from(acks);
            const lineEnd = acks.indexOf(LF, starts[line]!);
            const index = at >= 0 ? starts[line]! + at : lineEnd + at;
            broken[index] = broken[index]! ^ 0x20;
            expect({ minBytes, line, at, count: count(broken) }).toEqual({ minBytes, line, at, count: -1 });
          }
        }
        const notice = Buffer.concat([acks, bytesOf("ERROR idle timeout\n")]);
        expect(count(notice)).toBe(-1);
      }
    });

    test("says -1 for lines shorter than the prefix, a missing last LF, a CR, and no bytes", () => {
      for (const minBytes of [1, 6000]) {
        const acks = ackStream(random(9), minBytes);
        for (const tail of ["Messag\n", "\n", "M\n", "Message \n", `${ackFor("a")}\r\n`])
          expect({ tail, count: count(Buffer.concat([acks, bytesOf(tail)])) }).toEqual({ tail, count: -1 });
        expect(count(acks.subarray(0, acks.length - 1))).toBe(-1);
        // A CR anywhere: those lines take the line-by-line path, which drops a CR before the LF.
        expect(count(Buffer.concat([bytesOf(`${ackFor("a")}\r\n`), acks]))).toBe(-1);
        // Lines that only start like an ack, or start and end like one with the two overlapping:
        // a raw-framing server's ack of "a\nb" comes as "Message 'a", then "b' received ...".
        for (const tail of [ACK_PREFIX, `${ACK_PREFIX}a`, `Message${ACK_SUFFIX}`, `Message '${ACK_SUFFIX.slice(1)}`])
          expect({ tail, count: count(Buffer.concat([acks, bytesOf(`${tail}\n`)])) }).toEqual({ tail, count: -1 });
      }
      expect(count(new Uint8Array(0))).toBe(-1);
    });

    test("counts the shortest acks (an empty message's), back to back", () => {
      for (const repeat of [1, 7, 1000]) {
        const shortest = bytesOf(`${ackFor("")}\n`.repeat(repeat));
        expect({ repeat, count: count(shortest) }).toEqual({ repeat, count: repeat });
      }
    });

    test("takes reads larger than the window, and a single line longer than it", () => {
      const acks = ackStream(random(31), 2.5 * MIB);
      expect(count(acks)).toBe(referenceAcks(acks));
      const head = acks.subarray(0, acks.indexOf(LF, 5000) + 1);
      const long = Buffer.concat([head, Buffer.from(`${ackFor("z".repeat(1.5 * MIB))}\n`)]);
      expect(count(long)).toBe(referenceAcks(long));
      expect(count(Buffer.concat([long, bytesOf("nope\n")]))).toBe(-1);
    });
  });
}

test("the module reads nothing past its memory: reads that end at its edge, in a fresh process", async () => {
  // The module starts with 2 pages (128 KiB) and grows as reads need; what lies past a read's end
  // depends on what came before, so this starts from a fresh process and walks the edge upwards.
  const script = join(mkdtempSync(join(tmpdir(), "line-scan-")), "edge.ts");
  const src = resolve(import.meta.dir, "../src/protocol");
  writeFileSync(
    script,
    `import { countAcksInBulk } from ${JSON.stringify(join(src, "line-scan.ts"))};
import { ackFor, countAcks } from ${JSON.stringify(join(src, "messages.ts"))};
const line = (length: number) => \`\${ackFor("x".repeat(length - 33))}\\n\`;
const results = [];
for (let length = 130_960; length <= 131_040; length++) {
  for (const text of [line(length), line(length - 5) + "nope\\n"]) {
    const bytes = Buffer.from(text);
    results.push([bytes.length, countAcksInBulk(bytes), countAcks(bytes)]);
  }
}
console.log(JSON.stringify(results));
`,
  );
  const run = Bun.spawnSync([process.execPath, script], { stdout: "pipe", stderr: "pipe" });
  expect(run.stderr.toString()).toBe("");
  const results = JSON.parse(run.stdout.toString()) as Array<[number, number, number]>;
  expect(results.length).toBe(162);
  for (const [length, bulk, plain] of results) expect({ length, bulk }).toEqual({ length, bulk: plain });
});
