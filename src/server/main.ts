// The server program: start, report, and shut down on signals with the spec's exit codes.
import { createLogger, type LogLevelName } from "../output/logger.ts";
import { createServerReporter } from "../output/server-reporter.ts";
import { createLineSink, flushWithin } from "../output/sink.ts";
import type { Framing } from "../protocol/messages.ts";
import type { ServerLimits } from "./limits.ts";
import { ListenError, startServer } from "./server.ts";

export const EXIT_OK = 0;
export const EXIT_RUNTIME_ERROR = 1;
/** After a second Ctrl+C: the shell's convention for "killed by SIGINT". */
export const EXIT_INTERRUPTED = 130;

/** Per-message lines waiting for a slow stdout before new ones are dropped (about 100k lines). */
const STDOUT_BACKLOG_CHARS = 8 * 1024 * 1024;

export interface ServerProgramOptions {
  host: string;
  port: number;
  framing: Framing;
  limits: ServerLimits;
  drainTimeoutMs: number;
  closeTimeoutMs: number;
  json: boolean;
  quiet: boolean;
  logLevel: LogLevelName;
}

export async function runServerProgram(options: ServerProgramOptions): Promise<number> {
  const logger = createLogger({ level: options.logLevel, format: options.json ? "json" : "text" });
  // The server's job is its clients, not its stdout: whatever stdout does, keep serving, and say so.
  const messages = options.quiet
    ? undefined
    : createLineSink("stdout", {
        onFailure: (error) =>
          logger.warn(
            error.code === "EPIPE"
              ? "[WARNING] stdout was closed: per-message lines are no longer written"
              : `[WARNING] cannot write to stdout (${error.code ?? error.message}): per-message lines are no longer written`,
            { event: "stdout-failed", code: error.code },
          ),
        dropWhenBehind: {
          limit: STDOUT_BACKLOG_CHARS,
          onDropping: () =>
            logger.warn("[WARNING] stdout is not keeping up: per-message lines are being dropped", {
              event: "stdout-behind",
            }),
        },
      });
  const events = createServerReporter({ logger, messages, json: options.json });

  let server;
  try {
    server = startServer({
      host: options.host,
      port: options.port,
      framing: options.framing,
      limits: options.limits,
      drainTimeoutMs: options.drainTimeoutMs,
      lingerMs: options.closeTimeoutMs,
      events,
    });
  } catch (error) {
    if (!(error instanceof ListenError)) throw error;
    logger.error(`[ERROR] ${error.message}`, { event: "error", code: error.code, error: error.message });
    return EXIT_RUNTIME_ERROR;
  }
  if (server.maxConnections < options.limits.maxConnections) {
    logger.warn(
      `[LIMIT] --max-connections lowered to ${server.maxConnections} to stay under the open-file limit`,
      { event: "limit-adjusted", limit: "connections", value: server.maxConnections },
    );
  }

  const { promise: stopped, resolve: exitWith } = Promise.withResolvers<number>();
  let signals = 0;
  const onSignal = () => {
    signals++;
    if (signals > 1) {
      // A second Ctrl+C: the operator does not want to wait for the drain, or for stdout.
      server.kill();
      process.exit(EXIT_INTERRUPTED);
    }
    // The tutorial's Ctrl+C leaves "^C" on the line; start ours on a fresh one.
    if (process.stderr.isTTY && !options.json) process.stderr.write("\n");
    void server.stop().then(() => exitWith(EXIT_OK));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const code = await stopped;
  if (messages) {
    // The drain timeout bounds the whole way out, stdout included.
    const flushed = await flushWithin(messages, options.drainTimeoutMs);
    if (messages.dropped > 0 || !flushed) {
      const unwritten = flushed ? "" : "; the last ones were not written before exit";
      logger.warn(`[WARNING] stdout fell behind: ${messages.dropped} per-message lines dropped${unwritten}`, {
        event: "stdout-lines-dropped",
        dropped: messages.dropped,
        flushed,
      });
    }
  }
  return code;
}
