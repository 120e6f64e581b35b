// A stdout that nobody reads (`server | sleep 300`, `client < big > fifo`) must not make either
// program grow without bound or ignore signals: the server is paced by it (input waits in the
// clients' sockets), the client stops reading acks until stdout takes them.
import { afterEach, expect, test } from "bun:test";
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { memoryKiB } from "../harness/procfs.ts";
import {
  CHILD_ENV,
  CLIENT_TS,
  runClient,
  SERVER_TS,
  startServerProcess,
  TextCollector,
  withDeadline,
} from "./helpers/processes.ts";
import { RawClient } from "./helpers/sockets.ts";
import { ackLine } from "./helpers/spec.ts";
import { stuckReader as stuckFifo } from "./helpers/stuck-reader.ts";

/** Resident memory from /proc is in KiB. */
const MiB_IN_KiB = 1024;
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** A stdout nobody reads, removed after the test: a write fd. */
function stuckReader(): number {
  const { fd, cleanup } = stuckFifo();
  cleanups.push(cleanup);
  return fd;
}

const lines = (count: number) => `${"x".repeat(100)}\n`.repeat(count);

/** A server from source whose stdout nobody reads, killed after the test; its port once it listens. */
async function serverIntoStuckStdout(args: string[]) {
  const stdout = stuckReader();
  const proc = Bun.spawn([process.execPath, SERVER_TS, "--port", "0", ...args], {
    stdout,
    stderr: "pipe",
    env: CHILD_ENV,
  });
  closeSync(stdout);
  cleanups.push(() => proc.kill("SIGKILL"));
  const stderr = new TextCollector(proc.stderr);
  const port = Number((await stderr.waitFor(/listening on [^:]+:(\d+)/))[1]);
  return { proc, stderr, port };
}

test("server | (nobody reads): memory stays bounded, and SIGTERM still exits 0 within the drain timeout", async () => {
  const { proc, stderr, port } = await serverIntoStuckStdout(["--drain-timeout", "1"]);
  await Bun.sleep(200);
  const before = memoryKiB(proc.pid).rss;
  // 60 MB of messages: without pacing, their log lines would pile up in the server's memory.
  const client = await runClient(["--port", String(port), "--quiet", "--response-timeout", "2"], {
    stdin: lines(600_000),
    deadlineMs: 30_000,
  });
  const growth = memoryKiB(proc.pid).rss - before;
  await stderr.waitFor("[WARNING] stdout is not keeping up: reading from clients pauses until it does");
  // The server stopped reading, so the client gave up waiting for its acks: it must not say 0.
  expect(client.exitCode).toBe(5);
  expect(growth).toBeLessThan(40 * MiB_IN_KiB);
  proc.kill("SIGTERM");
  expect(await withDeadline(proc.exited, 5_000, "the server did not exit")).toBe(0);
  await stderr.done;
  expect(stderr.text).toContain("[WARNING] stdout did not take the last per-message lines before exit");
});

test("client > (nobody reads): it stops taking acks instead of growing, and SIGTERM ends it", async () => {
  const server = await startServerProcess(["--quiet"]);
  cleanups.push(() => server.proc.kill("SIGKILL"));
  const stdout = stuckReader();
  const proc = Bun.spawn([process.execPath, CLIENT_TS, "--port", String(server.port), "--quiet"], {
    stdin: new Blob([lines(600_000)]),
    stdout,
    stderr: "pipe",
    env: CHILD_ENV,
  });
  closeSync(stdout);
  cleanups.push(() => proc.kill("SIGKILL"));
  await Bun.sleep(500);
  const before = memoryKiB(proc.pid).rss;
  await Bun.sleep(1500);
  // Whatever was read before the pause is all it holds: ~60 MB of acks never pile up.
  expect(memoryKiB(proc.pid).rss - before).toBeLessThan(20 * MiB_IN_KiB);
  expect(proc.exitCode).toBeNull();
  proc.kill("SIGTERM");
  expect(await withDeadline(proc.exited, 5_000, "the client did not exit")).toBe(130);
  await server.stop();
});

test("stdout on a full disk (/dev/full): the server warns once and keeps serving; the client fails plainly (exit 1)", async () => {
  const full = openSync("/dev/full", "w");
  const proc = Bun.spawn([process.execPath, SERVER_TS, "--port", "0"], {
    stdout: full,
    stderr: "pipe",
    env: CHILD_ENV,
  });
  cleanups.push(() => proc.kill("SIGKILL"));
  const stderr = new TextCollector(proc.stderr);
  const port = (await stderr.waitFor(/listening on [^:]+:(\d+)/))[1]!;
  for (let round = 0; round < 2; round++) {
    const result = await runClient(["--port", port, "--quiet"], { stdin: lines(1000) });
    expect(result.exitCode).toBe(0);
  }
  const client = Bun.spawn([process.execPath, CLIENT_TS, "--port", port, "-m", "hi"], {
    stdout: full,
    stderr: "pipe",
    env: CHILD_ENV,
  });
  closeSync(full);
  const clientStderr = await new Response(client.stderr).text();
  expect(await client.exited).toBe(1);
  expect(clientStderr).toContain("[ERROR] Cannot write to stdout: ENOSPC\n");
  expect(clientStderr).not.toContain("    at ");
  proc.kill("SIGTERM");
  expect(await withDeadline(proc.exited, 5_000, "the server did not exit")).toBe(0);
  await stderr.done;
  expect(stderr.text.match(/\[WARNING\] cannot write to stdout \(ENOSPC\)/g)?.length).toBe(1);
  expect(stderr.text).not.toContain("    at ");
});

test.each([
  ["one process", []],
  ["--workers 2 (the supervisor relays)", ["--workers", "2"]],
])(
  "server 2>&1 into one pipe read slowly, %s: a log line never lands inside a half-written message line",
  async (_name, args) => {
    // The test is the pipe's reader: it reads nothing while a message line larger than the pipe is
    // half-written and a new client's [NEW CONNECTION] line waits, then everything.
    const dir = mkdtempSync(join(tmpdir(), "socket-lab-one-pipe-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const fifo = join(dir, "fifo");
    Bun.spawnSync(["mkfifo", fifo]);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    cleanups.push(() => closeSync(reader));
    const pipe = openSync(fifo, "w");
    const proc = Bun.spawn([process.execPath, SERVER_TS, "--port", "0", ...args], {
      stdout: pipe,
      stderr: pipe,
      env: CHILD_ENV,
    });
    closeSync(pipe);
    cleanups.push(() => proc.kill("SIGKILL"));
    let output = "";
    const chunk = Buffer.alloc(64 * 1024);
    /** Reads what the pipe holds now; with `until`, goes on until the output matches it. */
    const read = async (until?: RegExp): Promise<RegExpMatchArray | null> => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          const n = readSync(reader, chunk);
          if (n > 0) output += chunk.toString("latin1", 0, n);
          continue;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw error;
        }
        const found = until ? output.match(until) : null;
        if (!until || found) return found;
        if (Date.now() > deadline) throw new Error(`not seen in the pipe: ${until}`);
        await Bun.sleep(5);
      }
    };
    const port = Number((await read(/listening on [^:]+:(\d+)\n/))![1]);
    const big = "y".repeat(300_000);
    const first = await RawClient.connect(port);
    first.write(`${big}\n`);
    await first.waitFor(ackLine(big));
    const second = await RawClient.connect(port);
    await Bun.sleep(200);
    second.write("after\n");
    await read(/\] after\n/);
    await second.waitFor(ackLine("after"));
    first.terminate();
    second.terminate();
    const lines = output.split("\n").slice(0, -1);
    const bad = lines.filter(
      (line) =>
        !/^\[(STARTING|NEW CONNECTION|ACTIVE CONNECTIONS|WARNING|DISCONNECTED)\] /.test(line) &&
        !/^\[127\.0\.0\.1:\d+\] (y+|after)$/.test(line),
    );
    expect(bad.map((line) => line.slice(0, 80))).toEqual([]);
    expect(lines).toContain(`[127.0.0.1:${first.localPort}] ${big}`);
    expect(lines).toContain(`[NEW CONNECTION] 127.0.0.1:${second.localPort} connected.`);
  },
);

test("server --idle-timeout with a stdout nobody reads: a client that keeps sending is not taken for idle", async () => {
  // The server stops reading from everyone while its stdout is behind; the time it holds a
  // client's input is its own doing, not the client's silence.
  const { stderr, port } = await serverIntoStuckStdout(["--idle-timeout", "1"]);
  using client = await RawClient.connect(port);
  let held: number | undefined;
  // 64 KB every 20 ms: the pipe and then the server's 8 MiB of backlog fill within seconds, and
  // the server holds input; the client goes on sending for three idle timeouts after that.
  const batch = `${"y".repeat(1000)}\n`.repeat(64);
  for (let i = 0; held === undefined || performance.now() - held < 3000; i++) {
    client.write(batch);
    await Bun.sleep(20);
    if (held === undefined && stderr.text.includes("[WARNING] stdout is not keeping up")) held = performance.now();
    if (i > 1000) throw new Error("the server never held its input");
  }
  expect(stderr.text).not.toContain("[LIMIT]");
  expect(client.replies.text).not.toContain("ERROR idle timeout");
  expect(client.isEnded).toBe(false);
});
