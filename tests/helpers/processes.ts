// Real processes for tests: start the server (source or compiled binary) on a free port, run the
// client, collect output, and always clean up. Deadlines are constants, never sleeps-and-hope.

import { afterAll, afterEach, beforeAll, expect } from "bun:test";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { CHILD_ENV } from "../../harness/child-env.ts";
import { RawClient } from "../../harness/raw-client.ts";
import { TextCollector } from "../../harness/text-collector.ts";
import { DEADLINE_MS, withDeadline } from "../../harness/wait.ts";

export { CHILD_ENV } from "../../harness/child-env.ts";
export { TextCollector } from "../../harness/text-collector.ts";
export { DEADLINE_MS, eventually, withDeadline } from "../../harness/wait.ts";

export const ROOT = join(import.meta.dir, "..", "..");
export const SERVER_TS = join(ROOT, "server.ts");
export const CLIENT_TS = join(ROOT, "client.ts");
export const SEED = join(ROOT, "..", "shared", "seed");

/** Command prefix to run a program: `bun server.ts` or a compiled binary. */
export type Program = string[];
export const SOURCE_SERVER: Program = [process.execPath, SERVER_TS];
export const SOURCE_CLIENT: Program = [process.execPath, CLIENT_TS];

/**
 * A server process. `await using server = await startServerProcess(...)` kills it (SIGKILL) at the
 * end of the scope if the test has not stopped it, and waits for it to be gone.
 */
export interface ServerProcess extends AsyncDisposable {
  proc: Subprocess<"pipe", "pipe", "pipe">;
  port: number;
  host: string;
  stdout: TextCollector;
  stderr: TextCollector;
  /** SIGINT, then wait for exit; returns the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number>;
}

/** Where and with what environment a program runs (defaults: this folder, CHILD_ENV), and how long it may take. */
export interface SpawnOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  deadlineMs?: number;
}

/** Starts a server on a free port (unless args say otherwise) and waits for its STARTING line. */
export async function startServerProcess(
  args: string[] = [],
  program: Program = SOURCE_SERVER,
  options: SpawnOptions = {},
): Promise<ServerProcess> {
  const withPort = args.includes("--port") ? args : ["--port", "0", ...args];
  const proc = Bun.spawn([...program, ...withPort], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
    cwd: options.cwd,
    env: options.env ?? CHILD_ENV,
  });
  const stdout = new TextCollector(proc.stdout);
  const stderr = new TextCollector(proc.stderr);
  try {
    // The first listener's address: `127.0.0.1:5000`, `[::1]:5000` or `tls://127.0.0.1:5000`.
    const match = await stderr.waitFor(
      /Server is listening on (?:tls:\/\/)?(\[[^\]]+\]|[^:\s]+):(\d+)/,
      options.deadlineMs,
    );
    const host = match[1]!.replace(/^\[|\]$/g, "");
    return {
      proc,
      port: Number(match[2]),
      host,
      stdout,
      stderr,
      async stop(signal = "SIGINT") {
        if (proc.exitCode === null) proc.kill(signal);
        const code = await withDeadline(proc.exited, DEADLINE_MS, "server did not exit");
        await Promise.all([stdout.done, stderr.done]);
        return code;
      },
      async [Symbol.asyncDispose]() {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
        await proc.exited;
      },
    };
  } catch (error) {
    proc.kill("SIGKILL");
    throw error;
  }
}

/**
 * One server process shared by the tests of a file: started before them, stopped (and checked
 * to exit 0) after them. Call at the top of the file; the getter gives the running server.
 */
export function serverForThisFile(args: string[] = []): () => ServerProcess {
  let server: ServerProcess | undefined;
  beforeAll(async () => {
    server = await startServerProcess(args);
  });
  afterAll(async () => {
    if (server) expect(await server.stop()).toBe(0);
  });
  return () => server!;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion with the given stdin; kills it at the deadline. */
export async function runProgram(
  program: Program,
  args: string[],
  options: SpawnOptions & { stdin?: string | Uint8Array | Blob } = {},
): Promise<RunResult> {
  const proc = Bun.spawn([...program, ...args], {
    stdin: options.stdin === undefined ? "ignore" : new Blob([options.stdin]),
    stdout: "pipe",
    stderr: "pipe",
    cwd: options.cwd,
    env: options.env ?? CHILD_ENV,
  });
  const deadline = setTimeout(() => proc.kill("SIGKILL"), options.deadlineMs ?? DEADLINE_MS);
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  clearTimeout(deadline);
  return { exitCode, stdout, stderr };
}

export function runClient(args: string[], options?: Parameters<typeof runProgram>[2], program = SOURCE_CLIENT) {
  return runProgram(program, args, options);
}

/** A client process with stdin held open (ours, openssl s_client, socat, nc): fed as the test goes. */
export interface LineClient extends AsyncDisposable {
  proc: Subprocess<"pipe", "pipe", "pipe">;
  stdout: TextCollector;
  stderr: TextCollector;
  /** Feeds its stdin, as a slow producer would. */
  send(text: string): void;
  /** Ends its stdin. */
  endInput(): void;
  /** Waits for it to exit by itself (killing it at the deadline); returns the exit code. */
  exited(deadlineMs?: number): Promise<number>;
}

export function spawnLineClient(command: string[], env: Record<string, string | undefined> = CHILD_ENV): LineClient {
  const proc = Bun.spawn(command, { stdin: "pipe", stdout: "pipe", stderr: "pipe", env });
  const stdout = new TextCollector(proc.stdout);
  const stderr = new TextCollector(proc.stderr);
  const kill = () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
  };
  return {
    proc,
    stdout,
    stderr,
    send(text) {
      proc.stdin.write(text);
      // A program that exits before it has read all of it (EPIPE) is for the test to judge by
      // its exit, not a failure of the test process.
      Promise.resolve(proc.stdin.flush()).catch(() => {});
    },
    endInput() {
      void proc.stdin.end();
    },
    async exited(deadlineMs = DEADLINE_MS) {
      try {
        const code = await withDeadline(proc.exited, deadlineMs, `${command[0]} did not exit`);
        await Promise.all([stdout.done, stderr.done]);
        return code;
      } finally {
        kill();
      }
    },
    async [Symbol.asyncDispose]() {
      kill();
      await proc.exited;
    },
  };
}

export type ClientProcess = LineClient;

/** Starts our client with its stdin held open, for tests that feed it over time. */
export function startClientProcess(args: string[], program: Program = SOURCE_CLIENT): ClientProcess {
  return spawnLineClient([...program, ...args]);
}

/**
 * The server processes and raw clients a test file starts, pushed here by its tests and stopped
 * after each test whatever it did: clients reset, servers killed and waited for.
 */
export interface StartedPerTest {
  servers: ServerProcess[];
  clients: RawClient[];
  /** A server process (startServerProcess), killed after the test. */
  serve(args?: string[]): Promise<ServerProcess>;
  /**
   * A raw client to the server's port on `to` (127.0.0.1 unless given), from the source address
   * `from` (127.0.0.2, ...: the whole 127/8 range is this machine's), closed after the test.
   */
  connect(server: ServerProcess, from?: string, to?: string): Promise<RawClient>;
}

export function stopAfterEachTest(): StartedPerTest {
  const started: StartedPerTest = {
    servers: [],
    clients: [],
    async serve(args = []) {
      const server = await startServerProcess(args);
      started.servers.push(server);
      return server;
    },
    async connect(server, from, to = "127.0.0.1") {
      const client = await RawClient.connect(server.port, to, { localAddress: from });
      started.clients.push(client);
      return client;
    },
  };
  afterEach(async () => {
    for (const client of started.clients.splice(0)) client.terminate();
    for (const server of started.servers.splice(0)) {
      if (server.proc.exitCode === null) server.proc.kill("SIGKILL");
      await server.proc.exited;
    }
  });
  return started;
}
