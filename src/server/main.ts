// The server program: one process serving (--workers 1), or a supervisor running its workers, or
// one of those workers; each starts, reports, and shuts down on signals with the spec's exit codes.
import { ExitCode } from "../cli/exit-codes.ts";
import { createLogger, type LogLevelName } from "../output/logger.ts";
import { flushWithin } from "../output/sink.ts";
import type { Framing } from "../protocol/messages.ts";
import type { ServerLimits } from "./limits.ts";
import { createMessageOutput, stdoutBehindWarning, warnConnectionsLowered, warnUnflushed } from "./program-output.ts";
import { createServerReporter } from "./reporter.ts";
import { ListenError, type RunningServer, type ServerOptions, startServer } from "./server.ts";
import { stopOnSignals } from "./signals.ts";
import { workerAssignment } from "./workers/protocol.ts";
import { runSupervisor } from "./workers/supervisor.ts";
import { runWorker } from "./workers/worker.ts";

export interface ServerProgramOptions {
  host: string;
  port: number;
  framing: Framing;
  limits: ServerLimits;
  drainTimeoutMs: number;
  closeTimeoutMs: number;
  /** Processes serving: 1 is this one; more makes this process their supervisor. */
  workers: number;
  json: boolean;
  quiet: boolean;
  logLevel: LogLevelName;
}

export async function runServerProgram(options: ServerProgramOptions): Promise<number> {
  // A worker runs the supervisor's own command line: its environment says it is a worker.
  const assignment = workerAssignment();
  if (assignment) return runWorker(options, serverOptionsOf(options), assignment);
  if (options.workers > 1) return runSupervisor(options);
  return runSingleServer(options);
}

async function runSingleServer(options: ServerProgramOptions): Promise<number> {
  const logger = createLogger({ level: options.logLevel, format: options.json ? "json" : "text" });
  const messages = createMessageOutput(logger, options.quiet);
  const warnBehind = stdoutBehindWarning(logger);
  let server: RunningServer | undefined;
  const onMessagesBehind = () => {
    if (!messages || !server) return;
    warnBehind();
    server.holdInputUntil(messages.flush());
  };
  const events = createServerReporter({ logger, messages, json: options.json, onMessagesBehind });

  try {
    server = startServer({ ...serverOptionsOf(options), events });
  } catch (error) {
    if (!(error instanceof ListenError)) throw error;
    logger.error(`[ERROR] ${error.message}`, { event: "error", code: error.code, error: error.message });
    return ExitCode.failure;
  }
  if (server.maxConnections < options.limits.maxConnections) warnConnectionsLowered(logger, server.maxConnections);

  const code = await stopOnSignals(server, options);
  // The drain timeout bounds the wait for stdout too.
  if (messages && !(await flushWithin(messages, options.drainTimeoutMs))) warnUnflushed(logger);
  return code;
}

/** What the library's startServer takes from the program's options. */
function serverOptionsOf(options: ServerProgramOptions): ServerOptions {
  const { host, port, framing, limits, drainTimeoutMs, closeTimeoutMs } = options;
  return { host, port, framing, limits, drainTimeoutMs, closeTimeoutMs };
}
