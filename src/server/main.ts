// The server program: start, report, and shut down on signals with the spec's exit codes.
import { ExitCode } from "../cli/exit-codes.ts";
import { createLogger, type LogLevelName } from "../output/logger.ts";
import { createLineSink, flushWithin } from "../output/sink.ts";
import type { Framing } from "../protocol/messages.ts";
import type { ServerLimits } from "./limits.ts";
import type { MetricsServer } from "./metrics/http.ts";
import { createServerReporter } from "./reporter.ts";
import { ListenError, type RunningServer, startServer } from "./server.ts";

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
  /** `--metrics`: where to serve /metrics and /healthz; omitted, no HTTP listener. */
  metrics?: { host: string; port: number };
  /** The package version, for socketlab_build_info. */
  version: string;
}

export async function runServerProgram(options: ServerProgramOptions): Promise<number> {
  const logger = createLogger({ level: options.logLevel, format: options.json ? "json" : "text" });
  const messages = options.quiet
    ? undefined
    : createLineSink("stdout", {
        // The server's job is its clients, not its stdout: if stdout fails, keep serving and say so.
        onFailure: (error) =>
          logger.warn(
            error.code === "EPIPE"
              ? "[WARNING] stdout was closed: per-message lines are no longer written"
              : `[WARNING] cannot write to stdout (${error.code ?? error.message}): per-message lines are no longer written`,
            { event: "stdout-failed", code: error.code },
          ),
      });
  let server: RunningServer | undefined;
  let toldBehind = false;
  // A stdout that is read slowly (or not at all) paces the server, as a pipe paces any Unix tool:
  // input waits in the clients' sockets, not in memory. Said once.
  const onMessagesBehind = () => {
    if (!messages || !server) return;
    if (!toldBehind) {
      toldBehind = true;
      logger.warn("[WARNING] stdout is not keeping up: reading from clients pauses until it does", {
        event: "stdout-behind",
      });
    }
    server.holdInputUntil(messages.flush());
  };
  const events = createServerReporter({ logger, messages, json: options.json, onMessagesBehind });

  // From the first signal on, /healthz says so, while the drain still has clients to finish.
  let draining = false;
  let metrics: MetricsServer | undefined;
  try {
    // Bound first, so that a busy metrics port stops the program before any client is accepted.
    if (options.metrics) {
      const { startMetricsServer } = await import("./metrics/http.ts");
      metrics = await startMetricsServer({
        ...options.metrics,
        version: options.version,
        collect: async () => (server ? [server.snapshot()] : []),
        health: () => (draining ? "draining" : "serving"),
      });
    }
    server = startServer({
      host: options.host,
      port: options.port,
      framing: options.framing,
      limits: options.limits,
      drainTimeoutMs: options.drainTimeoutMs,
      closeTimeoutMs: options.closeTimeoutMs,
      events,
    });
  } catch (error) {
    await metrics?.stop();
    if (!(error instanceof ListenError)) throw error;
    logger.error(`[ERROR] ${error.message}`, { event: "error", code: error.code, error: error.message });
    return ExitCode.failure;
  }
  if (metrics) {
    logger.info(`[METRICS] Serving metrics on ${metrics.url}`, {
      event: "metrics",
      url: metrics.url,
      host: metrics.host,
      port: metrics.port,
    });
  }
  if (server.maxConnections < options.limits.maxConnections) {
    logger.warn(`[LIMIT] --max-connections lowered to ${server.maxConnections} to stay under the open-file limit`, {
      event: "limit-adjusted",
      limit: "connections",
      value: server.maxConnections,
    });
  }

  const { promise: stopped, resolve: exitWith } = Promise.withResolvers<number>();
  let signals = 0;
  const onSignal = () => {
    signals++;
    if (signals > 1) {
      // A second Ctrl+C: the operator does not want to wait for the drain, or for stdout.
      server.kill();
      process.exit(ExitCode.interrupted);
    }
    draining = true;
    // The tutorial's Ctrl+C leaves "^C" on the line; start ours on a fresh one.
    if (process.stderr.isTTY && !options.json) process.stderr.write("\n");
    void server.stop().then(() => exitWith(ExitCode.ok));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const code = await stopped;
  // The drain timeout bounds the wait for stdout too.
  if (messages && !(await flushWithin(messages, options.drainTimeoutMs))) {
    logger.warn("[WARNING] stdout did not take the last per-message lines before exit", { event: "stdout-unflushed" });
  }
  await metrics?.stop();
  return code;
}
