// The line sink (src/output/sink.ts) keeps the order of what it is given, whichever way it comes:
// text, ready bytes, and bytes it lets the caller make in its own buffer (writeBytesWith, the
// server's per-message lines). A child process writes through a sink to a pipe, and the test
// compares every byte that came out, for a reader that keeps up and for one that is slow (the
// writer then cannot take everything at once, and the sink must not reuse a buffer it holds).
import { expect, test } from "bun:test";
import { join } from "node:path";
import { CHILD_ENV } from "./helpers/processes.ts";

const SINK_TS = join(import.meta.dir, "..", "src", "output", "sink.ts");

/** What the child writes: `count` rounds of text, made bytes and ready bytes, some over 64 KiB. */
// Run with `bun -e`, where the count is the last argument.
const CHILD = `
import { createLineSink } from ${JSON.stringify(SINK_TS)};
const sink = createLineSink("stdout");
const count = Number(process.argv.at(-1));
const made = (round, size) => {
  // A line of exactly size bytes: its round, then filler, then LF.
  const head = "made " + round + " ";
  sink.writeBytesWith(size, (into, at) => {
    for (let i = 0; i < size - 1; i++) into[at + i] = i < head.length ? head.charCodeAt(i) : 0x61 + (round % 26);
    into[at + size - 1] = 0x0a;
  });
};
for (let round = 0; round < count; round++) {
  sink.write("text " + round + "\\n");
  made(round, 40 + (round % 7) * 1000);
  // Made bytes wait for the end of the turn, with the text before them ("text 0", 7 bytes, moved
  // into the same buffer: one write a turn), and count as waiting.
  if (round === 0) process.stderr.write("waiting " + sink.backlog + "\\n");
  made(round, 30);
  if (round % 50 === 0) made(round, 70 * 1024);
  if (round % 3 === 0) sink.writeBytes(Buffer.from("bytes " + round + "\\n"));
  if (round % 10 === 0) await new Promise((resolve) => setImmediate(resolve));
}
await sink.flush();
process.stderr.write("backlog " + sink.backlog + "\\n");
`;

function expected(count: number): string {
  const made = (round: number, size: number) => {
    const head = `made ${round} `;
    const filler = String.fromCharCode(0x61 + (round % 26)).repeat(size - 1 - head.length);
    return `${head}${filler}\n`;
  };
  let out = "";
  for (let round = 0; round < count; round++) {
    out += `text ${round}\n`;
    out += made(round, 40 + (round % 7) * 1000);
    out += made(round, 30);
    if (round % 50 === 0) out += made(round, 70 * 1024);
    if (round % 3 === 0) out += `bytes ${round}\n`;
  }
  return out;
}

async function run(count: number, readAfterMs: number): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  const proc = Bun.spawn([process.execPath, "-e", CHILD, String(count)], {
    stdout: "pipe",
    stderr: "pipe",
    env: CHILD_ENV,
  });
  // A slow reader: the pipe (64 KiB) fills long before the child is done writing.
  if (readAfterMs > 0) await Bun.sleep(readAfterMs);
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { stdout, stderr, exitCode };
}

test("text, bytes made in the sink's buffer and ready bytes come out in the order written", async () => {
  const count = 400;
  const { stdout, stderr, exitCode } = await run(count, 0);
  expect(exitCode).toBe(0);
  expect(stdout.length).toBe(expected(count).length);
  expect(stdout === expected(count)).toBe(true);
  expect(stderr).toBe("waiting 47\nbacklog 0\n");
});

test("to a reader that is behind, every byte still comes out as written", async () => {
  const count = 400;
  const { stdout, stderr, exitCode } = await run(count, 500);
  expect(exitCode).toBe(0);
  expect(stdout.length).toBe(expected(count).length);
  // Compared whole (a mismatch shows its first differing line, not megabytes).
  const lines = stdout.split("\n");
  const wanted = expected(count).split("\n");
  const firstDifference = lines.findIndex((line, i) => line !== wanted[i]);
  expect(firstDifference).toBe(-1);
  expect(stderr).toBe("waiting 47\nbacklog 0\n");
});

test("flush() writes the bytes that wait, before an exit that does not wait for the event loop", async () => {
  const child = `
import { createLineSink } from ${JSON.stringify(SINK_TS)};
const sink = createLineSink("stdout");
sink.write("text\\n");
sink.writeBytesWith(4, (into, at) => into.set([0x61, 0x62, 0x63, 0x0a], at));
sink.write("after\\n");
await sink.flush();
process.exit(0);
`;
  const proc = Bun.spawn([process.execPath, "-e", child], { stdout: "pipe", stderr: "pipe", env: CHILD_ENV });
  const [stdout, exitCode] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  expect(exitCode).toBe(0);
  expect(stdout).toBe("text\nabc\nafter\n");
});
