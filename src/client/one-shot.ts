// The one-shot: `client -m TEXT` with its output going to a pipe or a file, as a script runs it to
// send a message and check the ack (exit 0) or the failure (exit 3, 4, 5 ...). It runs here, not
// through the whole program (cli.ts, main.ts, pipeline.ts, session.ts): loading and first
// running those costs a compiled binary ~1.3 ms, a fifth of a whole one-shot (BENCHMARKS.md,
// "one-shot"). Any other command line goes to the whole program (oneShotPlan says which):
// tests/one-shot.test.ts runs both against the same servers and server faults and compares
// everything they print.
//
// What the whole program does with such a command line, and so this does too: the messages are
// one send, line framing, no --reconnect; status lines on stderr (none with --quiet, errors
// always); acks on stdout as they came; exit 0 once every message is acknowledged, else the
// Outcome's code and line; Ctrl+C ends the run as interrupted, a second one exits at once.
//
// What a start costs is the functions its modules make and first run (BENCHMARKS.md, round eight),
// so this module takes only the way a one-shot usually goes: connect, send, read replies that are
// plain ASCII acks, exit. That is Bun.connect and the writers of stdout and stderr, used directly,
// and a few small modules. At the first thing it does not take (any other reply, a reply cut
// across reads, the connection's end, a write the kernel took only part of) it hands the
// connection to one-shot-rest.ts, which carries it on in a ServerLink, as the whole program
// would; every failure's line comes from there too. That module and the ones it uses (the link,
// the framing, the outcomes) are loaded only then. With them loaded at start, as before this split,
// a compiled `client -m hi` took 1.51x the compiled console.log floor; without, 1.31x, where Bun's
// bare Bun.connect client took 1.24x (BENCHMARKS.md, round fourteen).

import type { FileSink, Socket } from "bun";
import { ClientExit } from "../cli/exit-codes.ts";
import { terminalNow } from "../cli/terminal.ts";
import { countAcks } from "../protocol/messages.ts";
import { isAscii, utf8Length } from "../protocol/utf8.ts";
import type { TakenOver } from "./one-shot-rest.ts";
import { CLIENT_DEFAULTS } from "./options.ts";
import type { Outcome, Tally } from "./outcome.ts";
import { connectingLine } from "./status.ts";

export interface OneShot {
  host: string;
  port: number;
  messages: string[];
  quiet: boolean;
}

/**
 * Messages larger than this go to the whole program: it holds the replies back when stdout falls
 * behind, which acks this small never need.
 */
const MAX_ONE_SHOT_BYTES = 64 * 1024;
/** As main.ts: how long an interrupted run waits for stdout to take the acks already received. */
const INTERRUPTED_FLUSH_MS = 500;
/** As flushLogs (logger.ts): how long the exit waits for stderr to take the last lines. */
const STDERR_FLUSH_MS = 1000;
/** How many turns of the event loop the one-shot keeps from sleeping (keepAwake). */
const AWAKE_TURNS = 150;
/** How long a connect may take before the connecting line and the signal handlers go ahead of it. */
const ANNOUNCE_AFTER_MS = 1;

/**
 * The one-shot a command line asks for, or undefined when it asks for anything else. It takes
 * only flags spelt as the whole program reads them (flags.ts: `--name value`, `--name=value`, the
 * value being the next argument whatever it looks like, the last of a repeated flag winning) and
 * only valid values; everything else (another flag, a bad port, --help) is left to the whole
 * program, which says what is wrong.
 */
export function oneShotPlan(
  args: readonly string[],
  terminal: (stream: "stdout" | "stderr") => boolean | undefined = terminalNow,
): OneShot | undefined {
  const plan: OneShot = {
    host: CLIENT_DEFAULTS.host,
    port: CLIENT_DEFAULTS.port,
    messages: [],
    quiet: false,
  };
  let bytes = 0;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--quiet") {
      plan.quiet = true;
      continue;
    }
    const equals = arg.indexOf("=");
    const name = equals === -1 ? arg : arg.slice(0, equals);
    if (name !== "-m" && name !== "--message" && name !== "--host" && name !== "--port") return undefined;
    let value: string;
    if (equals !== -1) value = arg.slice(equals + 1);
    else if (i + 1 < args.length) value = args[++i]!;
    else return undefined;
    if (name === "--host") {
      if (value === "") return undefined;
      plan.host = value;
    } else if (name === "--port") {
      const port = portNumber(value);
      if (port === undefined) return undefined;
      plan.port = port;
    } else {
      bytes += utf8Length(value) + 1;
      if (bytes > MAX_ONE_SHOT_BYTES) return undefined;
      plan.messages.push(value);
    }
  }
  if (plan.messages.length === 0) return undefined;
  // A terminal shows acks escaped, and a live progress line on stderr: the whole program's work.
  // Where that cannot be known at once (no native isatty), it is the whole program's work too.
  if (terminal("stdout") !== false || (!plan.quiet && terminal("stderr") !== false)) return undefined;
  return plan;
}

/** What the rest of the one-shot (one-shot-rest.ts) works with once it has the connection. */
export interface OneShotRun {
  readonly plan: OneShot;
  readonly tally: Tally;
  /** Acks for stdout, as they came. */
  print(acks: string | Uint8Array): void;
  /** `count` more messages acknowledged: progress, for the response timeout. */
  acknowledged(count: number): void;
  /** Ends the run with `outcome` (the first end counts) and closes the connection. */
  end(outcome: Outcome): void;
}

const OK: Outcome = { exitCode: ClientExit.ok };

type OneShotRest = typeof import("./one-shot-rest.ts");

/** Runs the one-shot; resolves with the exit code, everything written. */
export async function runOneShot(plan: OneShot): Promise<number> {
  // Made when first needed, once the messages are out (open, below).
  let stdout: FileSink | undefined;
  let stderr: FileSink | undefined;
  // A stderr that fails takes nothing more, as the logger's (logger.ts); the exit code still tells.
  const toStderr = (line: string) => {
    stderr ??= Bun.stderr.writer();
    write(stderr, `${line}\n`, () => {});
  };
  const status = plan.quiet ? () => {} : toStderr;
  let stdoutFailed = false;
  const print = (acks: string | Uint8Array) => {
    stdout ??= Bun.stdout.writer();
    write(stdout, acks, (error) => {
      if (stdoutFailed) return;
      stdoutFailed = true;
      // As main.ts: a reader gone stops us quietly (SIGPIPE's way); any other failure fails the run.
      if (error.code === "EPIPE") process.exit(ClientExit.brokenPipe);
      toStderr(`[ERROR] Cannot write to stdout: ${error.code ?? error.message}`);
      void drained(stderr, STDERR_FLUSH_MS).then(() => process.exit(ClientExit.failure));
    });
  };
  const tally: Tally = { sent: 0, acknowledged: 0 };
  // Not `await new Promise(executor)`: the first Promise built that way costs a start 0.06 ms
  // more than withResolvers (BENCHMARKS.md, round sixteen).
  const settled = Promise.withResolvers<Outcome>();
  const settle = settled.resolve;
  {
    let over = false;
    let connectTimer: Timer | undefined;
    let responseTimer: Timer | undefined;
    let close = () => {};
    const end = (result: Outcome | Promise<Outcome>) => {
      if (over) return;
      over = true;
      announce();
      clearTimeout(connectTimer);
      clearTimeout(responseTimer);
      close();
      settle(result);
    };
    let rest: Promise<OneShotRest> | undefined;
    const loadRest = () => (rest ??= import("./one-shot-rest.ts"));
    /** Ends the run with a failure whose line the rest of the one-shot makes. */
    const fail = (describe: (rest: OneShotRest) => Outcome) => {
      if (!over) end(loadRest().then(describe));
    };
    let signals = 0;
    const onSignal = () => {
      if (++signals > 1 || over) process.exit(ClientExit.interrupted);
      end({ exitCode: ClientExit.interrupted, error: "[INTERRUPT] Client shutting down..." });
    };
    // The signal handlers and the connecting line wait for the messages to be out, and are then
    // set up while the server answers: a compiled `client -m hi` takes 0.03-0.09 ms less than
    // with both before the connect (five series, 3,000 alternating runs, BENCHMARKS.md round
    // eighteen). A connect that takes longer than ANNOUNCE_AFTER_MS gets them then, and a run
    // that ends first gets its line before any other. Until then a signal takes its default
    // action, as it does all through the runtime's own start (~1.4-1.9 ms).
    let announced = false;
    let announceTimer: Timer | undefined;
    const announce = () => {
      if (announced) return;
      announced = true;
      clearTimeout(announceTimer);
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
      status(connectingLine(plan));
    };

    let lastProgressAt = 0;
    const timeoutMs = CLIENT_DEFAULTS.responseTimeoutMs;
    // As the session's: one timer, re-armed from the last progress when it fires.
    const checkSilence = () => {
      const silentFor = performance.now() - lastProgressAt;
      if (silentFor >= timeoutMs) fail((rest) => rest.responseTimeoutOutcome(timeoutMs, tally));
      else responseTimer = setTimeout(checkSilence, timeoutMs - silentFor);
    };
    const run: OneShotRun = {
      plan,
      tally,
      print,
      acknowledged(count) {
        lastProgressAt = performance.now();
        tally.acknowledged += count;
      },
      end,
    };

    let opened = false;
    /** The connection, once the rest of the one-shot has it. */
    let taken: TakenOver | undefined;
    /** Events that came while the rest was loading: its link takes them in order. */
    const waiting: Array<(taken: TakenOver) => void> = [];
    /** From `event` on, the connection is a ServerLink's (one-shot-rest.ts). */
    const handOver = (socket: Socket<unknown>, event: (taken: TakenOver) => void) => {
      // Before `open`, a failure is the connect's (its promise rejects), not the connection's end.
      if (over || !opened) return;
      if (taken) return event(taken);
      waiting.push(event);
      if (waiting.length > 1) return;
      // No reads while it loads: the replies wait in the kernel, in order.
      socket.pause();
      void loadRest().then((rest) => {
        if (over) return;
        const link = rest.takeOver(socket, run);
        close = () => link.link.close();
        taken = link;
        socket.resume();
        for (const waited of waiting) waited(link);
      });
    };

    keepAwake(AWAKE_TURNS);
    announceTimer = setTimeout(announce, ANNOUNCE_AFTER_MS);
    if (CLIENT_DEFAULTS.connectTimeoutMs > 0)
      connectTimer = setTimeout(
        () => fail((rest) => rest.connectFailureOutcome({ kind: "timeout" })),
        CLIENT_DEFAULTS.connectTimeoutMs,
      );
    // Bun.connect throws some bad arguments rather than rejecting (an empty host did, before the
    // plan left that to the whole program, which refuses it): either is the connect's failure.
    const connectFailed = (error: unknown) =>
      fail((rest) => rest.connectFailureOutcome(rest.connectFailureOf(error, plan)));
    try {
      Bun.connect({
        hostname: plan.host,
        port: plan.port,
        socket: {
          open(socket) {
            // A connection that opens after we gave up is closed at once.
            if (over) return socket.terminate();
            clearTimeout(connectTimer);
            opened = true;
            close = () => socket.end();
            // The messages go out first, and everything else is done while the server answers:
            // the status line before the write cost a compiled `client -m hi` 0.1 ms, after it
            // nothing (BENCHMARKS.md, round sixteen). The order on stderr is the same.
            let text = "";
            for (const message of plan.messages) text += `${message}\n`;
            tally.sent = countLineBreaksInText(text);
            lastProgressAt = performance.now();
            // A string, encoded by Bun: a TextEncoder's first use costs a start ~0.03 ms. Bun
            // counts what it wrote in bytes of UTF-8.
            const written = socket.write(text);
            announce();
            status("[CONNECTED] Connected to server");
            stdout ??= Bun.stdout.writer();
            // What the kernel did not take, the link sends once there is room (-1: closed, which
            // the close that follows reports).
            if (written >= 0 && written < utf8Length(text))
              handOver(socket, ({ link }) => link.send(new TextEncoder().encode(text).subarray(written)));
            if (timeoutMs > 0) responseTimer = setTimeout(checkSilence, timeoutMs);
          },
          data(socket, chunk) {
            if (over) return;
            if (!taken && waiting.length === 0) {
              // The usual reply, taken here: whole ASCII ack lines, no more than are owed. The
              // whole read is checked, however long: a loop over a few acks costs less than
              // loading node:buffer's native check (utf8.ts).
              const count = isAscii(chunk, Number.POSITIVE_INFINITY) ? countAcks(chunk) : -1;
              if (count > 0 && count <= tally.sent - tally.acknowledged) {
                print(chunk);
                run.acknowledged(count);
                if (tally.acknowledged === tally.sent) end(OK);
                return;
              }
            }
            handOver(socket, ({ events }) => events.data(socket as Socket<never>, chunk));
          },
          drain: (socket) => handOver(socket, ({ events }) => events.drain(socket as Socket<never>)),
          end: (socket) => handOver(socket, ({ events }) => events.end(socket as Socket<never>)),
          error: (socket, error) => handOver(socket, ({ events }) => events.error(socket as Socket<never>, error)),
          close: (socket, error) => handOver(socket, ({ events }) => events.close(socket as Socket<never>, error)),
          // The rejected promise reports it; this handler only keeps Bun quiet.
          connectError() {},
        },
      }).then(undefined, connectFailed);
    } catch (error) {
      connectFailed(error);
    }
  }
  const outcome = await settled.promise;
  // The acks first, then the last lines on stderr (`2>&1` into one pipe keeps that order).
  await drained(stdout, outcome.exitCode === ClientExit.interrupted ? INTERRUPTED_FLUSH_MS : undefined);
  if (outcome.error) toStderr(outcome.error);
  status("[DISCONNECTED] Disconnected from server");
  await drained(stderr, STDERR_FLUSH_MS);
  return outcome.exitCode;
}

/**
 * Hands `data` to `writer` and has it written now. A failure (FileSink throws, or rejects a
 * returned promise) goes to `failed`.
 */
function write(writer: FileSink, data: string | Uint8Array, failed: (error: NodeJS.ErrnoException) => void): void {
  try {
    const taken = writer.write(data);
    if (typeof taken !== "number") taken.then(undefined, failed);
    const flushed = writer.flush();
    if (typeof flushed !== "number") flushed.then(undefined, failed);
  } catch (error) {
    failed(error as NodeJS.ErrnoException);
  }
}

/**
 * Resolves once `writer` has written everything (or failed), or after `ms` at most: on the way
 * out, a reader that takes nothing must not keep the process alive.
 */
async function drained(writer: FileSink | undefined, ms?: number): Promise<void> {
  // A flush that reports 0 has nothing left: the usual case, with no timer and no promise.
  if (!writer || writer.flush() === 0) return;
  let timer: Timer | undefined;
  const flushing = (async () => {
    try {
      // A flush's promise resolves once what was handed over before it is written: flush again
      // until it reports nothing left.
      for (let pending = writer.flush(); pending !== 0; pending = writer.flush()) await pending;
    } catch {
      // The write's own handler reported it.
    }
  })();
  const waits = ms === undefined ? [flushing] : [flushing, new Promise((done) => (timer = setTimeout(done, ms)))];
  await Promise.race(waits);
  clearTimeout(timer);
}

/**
 * Keeps the event loop from sleeping for its next `turns` turns: each turn polls the sockets
 * without waiting. The first time Bun's loop sleeps, its allocator starts a thread of its own
 * (mimalloc's "mi-scavenger", which returns free memory to the system while the loop waits); in
 * a one-shot that is the wait for the connect or the ack, and the thread's start, its work and its
 * end at exit cost more than polling through the wait: a compiled `client -m hi` took 0.01-0.13 ms
 * less with these turns (four series, 1,700 alternating runs, BENCHMARKS.md, round nineteen), and
 * Bun's bare Bun.connect client 0.11-0.12 ms less with the same chain. A one-shot on loopback
 * or a near network has its ack within these turns and never sleeps; a farther server's ack comes
 * after them, and the loop sleeps as before. Turns left when the run ends are cut short by the
 * process's exit. The turns are a chain of setImmediate calls whose
 * callback is setImmediate itself, native code: a function of ours called on every turn would be
 * run hot enough for the JIT, whose compiler thread costs as much as the allocator's.
 */
function keepAwake(turns: number): void {
  const chain: unknown[] = new Array(turns).fill(setImmediate);
  (setImmediate as (...args: unknown[]) => void)(...chain, () => {});
}

/**
 * The lines in `text`, as the server frames them: one per line break. messages.ts's
 * countLineBreaks does the same for bytes, on the server's and the pipeline's reads; this one
 * counts the string the one-shot writes, which it no longer encodes.
 */
function countLineBreaksInText(text: string): number {
  let count = 0;
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) count++;
  return count;
}

/** A port as the whole program takes it (1 to 65535, digits only), or undefined. */
function portNumber(text: string): number | undefined {
  if (text.length === 0 || text.length > 5) return undefined;
  let port = 0;
  for (let i = 0; i < text.length; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return undefined;
    port = port * 10 + digit;
  }
  return port >= 1 && port <= 65535 ? port : undefined;
}
