// A stdout that nobody reads (`server | sleep 300`, `client < big > fifo`) must not make either
// program grow without bound or ignore signals: the server is paced by it (input waits in the
// clients' sockets), the client stops reading acks until stdout takes them.
import { afterEach, expect, test } from "bun:test";
import { closeSync, openSync } from "node:fs";
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

test("server | (nobody reads): memory stays bounded, and SIGTERM still exits 0 within the drain timeout", async () => {
  const stdout = stuckReader();
  const proc = Bun.spawn([process.execPath, SERVER_TS, "--port", "0", "--drain-timeout", "1"], {
    stdout,
    stderr: "pipe",
    env: CHILD_ENV,
  });
  closeSync(stdout);
  cleanups.push(() => proc.kill("SIGKILL"));
  const stderr = new TextCollector(proc.stderr);
  const port = (await stderr.waitFor(/listening on [^:]+:(\d+)/))[1]!;
  await Bun.sleep(200);
  const before = memoryKiB(proc.pid).rss;
  // 60 MB of messages: without pacing, their log lines would pile up in the server's memory.
  const client = await runClient(["--port", port, "--quiet", "--response-timeout", "2"], {
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
