// The client program: pick the mode (a terminal gets the tutorial's session, anything else is a
// pipeline), wire it to stdin/stdout/stderr, and turn the outcome into output and an exit code.
import { UsageError } from "../cli/args.ts";
import { ClientExit } from "../cli/exit-codes.ts";
import { isSameDestination, isTerminal } from "../cli/terminal.ts";
import { loadTlsFiles, TlsFileError, type TlsSettings } from "../net/tls-files.ts";
import { createLogger, flushLogs, type LogLevelName, toStderr } from "../output/logger.ts";
import { createLineSink, flushWithin, type LineSink } from "../output/sink.ts";
import { runInteractive } from "./interactive.ts";
import { INSECURE_WARNING, type Outcome } from "./outcome.ts";
import { runPipeline } from "./pipeline.ts";
import { ProgressLine } from "./progress.ts";
import type { ReconnectOptions } from "./reconnect.ts";
import type { SessionOptions } from "./session.ts";

/** How long an interrupted run waits for stdout to take the acks already received. */
const INTERRUPTED_FLUSH_MS = 500;

export interface ClientProgramOptions extends Omit<SessionOptions, "tls"> {
  /** TLS as the command line gives it: the files are read here, once. */
  tls?: TlsSettings;
  /** Messages from -m; when given, stdin is not read. */
  messages: string[];
  json: boolean;
  quiet: boolean;
  logLevel: LogLevelName;
  /** --reconnect (pipelines only): ride out lost connections. */
  reconnect?: ReconnectOptions;
}

export async function runClientProgram(options: ClientProgramOptions): Promise<number> {
  const interactive = options.messages.length === 0 && (await isTerminal("stdin"));
  if (interactive && options.reconnect) {
    throw new UsageError("--reconnect is for pipelines (stdin is a terminal here: an interactive session)");
  }
  const outputIsTerminal = !interactive && (await isTerminal("stdout"));
  // One terminal, pipe or file for both (`client < big.txt`, `client 2>&1 | ...`): everything goes
  // through stdout's writer, in the order it is written (acks, status and error lines, the progress
  // line). Two writers, each flushing on its own, land a status line or a redraw in the middle of
  // an ack: stdout's writer finishes a write a full pipe took only part of later, while stderr
  // writes at once. Known from two fstats (stderr's stream, costly to create, is not looked at),
  // made only where the two can be one: both terminals, or neither (isatty is free; the fstats
  // cost a start about 0.5 ms).
  const stderrIsTerminal = await isTerminal("stderr");
  const oneStream =
    !interactive && outputIsTerminal === stderrIsTerminal && (await isSameDestination("stdout", "stderr"));
  const oneTerminal = outputIsTerminal && oneStream;
  // Pipeline: the acks' writer. Made before the logger, which may write through it too (below).
  const output = interactive
    ? undefined
    : createLineSink("stdout", {
        onFailure(error) {
          // Nobody reads our acks any more (`client | head -1`): stop quietly, as SIGPIPE would.
          if (error.code === "EPIPE") process.exit(ClientExit.brokenPipe);
          // Acks are this mode's data: losing them (a full disk, ...) fails the run. (On one
          // stream for both, the sentence is lost with them: that stream is stderr's too.)
          logger.error(`[ERROR] Cannot write to stdout: ${error.code ?? error.message}`, { event: "error" });
          void flushLogs().then(() => process.exit(ClientExit.failure));
        },
      });
  const toStatusStream = output && oneStream ? (line: string) => output.write(line) : toStderr;
  // pv's rule: a live line only where a person watches stderr.
  const progress =
    !interactive && !options.quiet && !options.json && (oneTerminal || stderrIsTerminal)
      ? new ProgressLine(toStatusStream, () => (oneTerminal ? process.stdout : process.stderr).columns || 80)
      : undefined;
  const toStatusAroundProgress = progress ? (line: string) => progress.print(line) : toStatusStream;
  // Interactive: everything on the terminal (stdout), as the tutorial prints it; errors on stderr.
  // Pipeline: stdout carries acks only; status goes to stderr (on one terminal for both, through
  // stdout's writer), and --quiet silences it.
  const logger = createLogger({
    level: options.quiet && !interactive ? "error" : options.logLevel,
    format: options.json ? "json" : "text",
    write: interactive ? (line) => void process.stdout.write(line) : toStatusAroundProgress,
    // Unbuffered on a terminal, so that an error shows before the status lines that follow it.
    writeErrors: interactive ? (line) => void process.stderr.write(line) : toStatusAroundProgress,
  });
  const status = (text: string, fields: Record<string, unknown> = {}) =>
    logger.info(text, { event: statusEvent(text), ...fields });

  let sessionOptions: SessionOptions = { ...options, tls: undefined };
  if (options.tls) {
    try {
      sessionOptions = { ...options, tls: await loadTlsFiles(options.tls) };
    } catch (error) {
      if (!(error instanceof TlsFileError)) throw error;
      logger.error(`[ERROR] ${error.message}`, { event: "error", exitCode: ClientExit.failure });
      // On one terminal for both, the line waits in stdout's writer (flushLogs is for stderr's).
      await output?.flush();
      return ClientExit.failure;
    }
    if (!options.tls.verify) logger.warn(INSECURE_WARNING, { event: "warning" });
  }

  const { promise: interrupted, resolve: interrupt } = Promise.withResolvers<void>();
  let signals = 0;
  let runOver = false;
  const onSignal = () => {
    // The first ends the run in order. Once the run is over (only a stuck stdout is being
    // flushed), or at a second signal, nothing is left to end in order: exit now.
    if (++signals > 1 || runOver) process.exit(ClientExit.interrupted);
    interrupt();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  let outcome: Outcome;
  if (output === undefined) {
    // Interactive.
    outcome = await runInteractive(sessionOptions, {
      input: process.stdin,
      output: process.stdout,
      say: status,
      interrupted,
    });
  } else {
    const input = options.messages.length > 0 ? messagesAsInput(options.messages) : Bun.stdin.stream();
    outcome = await runPipeline(
      { ...sessionOptions, json: options.json, reconnect: options.reconnect },
      {
        input,
        // Sharing the progress line's terminal, each write of acks erases the line first.
        output: progress && oneTerminal ? progress.around(output) : output,
        outputIsTerminal,
        status,
        progress,
        interrupted,
      },
    );
    runOver = true;
    // The acks first, then the last status lines on stderr (`2>&1` into one pipe keeps that order).
    if (!oneStream) await flushOutput(output, outcome);
  }
  if (outcome.error) logger.error(outcome.error, { event: statusEvent(outcome.error), exitCode: outcome.exitCode });
  status("[DISCONNECTED] Disconnected from server");
  // On one stream for both, those lines went through stdout's writer, behind the acks.
  if (output && oneStream) await flushOutput(output, outcome);
  return outcome.exitCode;
}

/**
 * Every ack must reach stdout before exit 0; a signal meanwhile exits at once (onSignal).
 * Interrupted, stdout gets only a moment: it may be the very thing that is stuck.
 */
async function flushOutput(output: LineSink, outcome: Outcome): Promise<void> {
  if (outcome.exitCode === ClientExit.interrupted) await flushWithin(output, INTERRUPTED_FLUSH_MS);
  else await output.flush();
}

function messagesAsInput(messages: string[]): Uint8Array {
  return Buffer.from(messages.map((message) => `${message}\n`).join(""));
}

/** `[CONNECTED] ...` -> "connected": the JSON event name of a status line. */
function statusEvent(text: string): string {
  return /^\s*\[([A-Z ]+)\]/.exec(text)?.[1]?.toLowerCase().replace(/ /g, "-") ?? "status";
}
