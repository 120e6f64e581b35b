// Real processes for tests: start the server (source or compiled binary) on a free port, run the
// client, collect output, and always clean up. Deadlines are constants, never sleeps-and-hope.

import { afterAll, beforeAll, expect } from "bun:test";
import { join } from "node:path";
import type { Subprocess } from "bun";

export const ROOT = join(import.meta.dir, "..", "..");
export const SERVER_TS = join(ROOT, "server.ts");
export const CLIENT_TS = join(ROOT, "client.ts");
export const SEED = join(ROOT, "..", "shared", "seed");

/** How long a test waits for something that should take milliseconds. */
export const DEADLINE_MS = 10_000;

/** Child processes must not inherit `bun test`'s NODE_ENV=test (consola changes with it). */
export const CHILD_ENV = { ...process.env, NO_COLOR: "1", NODE_ENV: "production", FORCE_COLOR: "0" };

/** Command prefix to run a program: `bun server.ts` or a compiled binary. */
export type Program = string[];
export const SOURCE_SERVER: Program = [process.execPath, SERVER_TS];
export const SOURCE_CLIENT: Program = [process.execPath, CLIENT_TS];

/**
 * Collects text, line by line, and lets a test wait for it: from a stream (a process's stdout),
 * or fed through append() and finish() (a socket).
 */
export class TextCollector {
  text = "";
  private waiters: Array<{ test: (text: string) => boolean; resolve: () => void }> = [];
  readonly done: Promise<void>;
  private markDone!: () => void;

  constructor(stream?: ReadableStream<Uint8Array>) {
    this.done = new Promise((resolve) => (this.markDone = resolve));
    if (stream) void this.readAll(stream);
  }

  append(text: string): void {
    this.text += text;
    this.waiters = this.waiters.filter((waiter) => {
      if (!waiter.test(this.text)) return true;
      waiter.resolve();
      return false;
    });
  }

  /** No more text will come. */
  finish(): void {
    this.markDone();
  }

  /** Waits until `count` complete lines have arrived. */
  waitForLines(count: number, deadlineMs = DEADLINE_MS): Promise<unknown> {
    let seen = 0;
    let searchFrom = 0;
    return this.waitFor((text) => {
      // Counted incrementally: the text can be megabytes long and grows one chunk at a time.
      for (let lf = text.indexOf("\n", searchFrom); lf !== -1; lf = text.indexOf("\n", lf + 1)) {
        seen++;
        searchFrom = lf + 1;
      }
      return seen >= count;
    }, deadlineMs);
  }

  get lines(): string[] {
    return this.text.split("\n").filter((line, i, all) => line !== "" || i < all.length - 1);
  }

  /**
   * Resolves when the text so far contains `pattern` (a string, a regular expression, or a test of
   * the whole text); rejects after the deadline, or at the end of the text, with what it has.
   */
  async waitFor(
    pattern: RegExp | string | ((text: string) => boolean),
    deadlineMs = DEADLINE_MS,
  ): Promise<RegExpMatchArray> {
    const test = (text: string) =>
      typeof pattern === "string"
        ? text.includes(pattern)
        : typeof pattern === "function"
          ? pattern(text)
          : pattern.test(text);
    if (!test(this.text)) {
      const { promise, resolve, reject } = Promise.withResolvers<void>();
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for ${pattern}; have:\n${this.tail}`)),
        deadlineMs,
      );
      this.waiters.push({ test, resolve });
      const ended = this.done.then(() => {
        if (!test(this.text)) throw new Error(`ended without ${pattern}; have:\n${this.tail}`);
      });
      ended.catch(() => {}); // Settled by the race below; a later end must not count as unhandled.
      try {
        await Promise.race([promise, ended]);
      } finally {
        clearTimeout(timer);
      }
    }
    const match = pattern instanceof RegExp ? this.text.match(pattern) : [this.text];
    return match as RegExpMatchArray;
  }

  /** The end of the text, for error messages. */
  private get tail(): string {
    return this.text.length <= 2000 ? this.text : `...${this.text.slice(-2000)}`;
  }

  private async readAll(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of stream) this.append(decoder.decode(chunk, { stream: true }));
    } finally {
      this.finish();
    }
  }
}

export interface ServerProcess {
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
    const match = await stderr.waitFor(/Server is listening on (\[[^\]]+\]|[^:\s]+):(\d+)/, options.deadlineMs);
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

export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: Timer | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export interface ClientProcess {
  proc: Subprocess<"pipe", "pipe", "pipe">;
  stdout: TextCollector;
  stderr: TextCollector;
  /** Feeds the client's stdin, as a slow producer would. */
  send(text: string): void;
  /** Ends the client's stdin. */
  endInput(): void;
  /** Waits for the client to exit (killing it at the deadline); returns the exit code. */
  exited(deadlineMs?: number): Promise<number>;
}

/** Starts the client with its stdin held open, for tests that feed it over time. */
export function startClientProcess(args: string[], program: Program = SOURCE_CLIENT): ClientProcess {
  const proc = Bun.spawn([...program, ...args], { stdin: "pipe", stdout: "pipe", stderr: "pipe", env: CHILD_ENV });
  const stdout = new TextCollector(proc.stdout);
  const stderr = new TextCollector(proc.stderr);
  return {
    proc,
    stdout,
    stderr,
    send(text) {
      proc.stdin.write(text);
      void proc.stdin.flush();
    },
    endInput() {
      void proc.stdin.end();
    },
    async exited(deadlineMs = DEADLINE_MS) {
      try {
        const code = await withDeadline(proc.exited, deadlineMs, "the client did not exit");
        await Promise.all([stdout.done, stderr.done]);
        return code;
      } finally {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      }
    },
  };
}
