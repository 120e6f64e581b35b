// The server program: one process serving (--workers 1), or a supervisor running its workers, or
// one of those workers; each starts, reports, and shuts down on signals with the spec's exit codes.
import { ExitCode } from "../cli/exit-codes.ts";
import { createLogger, type Logger, type LogLevelName } from "../output/logger.ts";
import type { Framing } from "../protocol/messages.ts";
import type { ServerLimits } from "./limits.ts";
import type { ListenerAddress } from "./listeners/listener.ts";
import type { TlsFiles } from "./listeners/tls-credentials.ts";
import { type ProgramMetrics, startProgramMetrics } from "./program-metrics.ts";
import {
  createMessageOutput,
  joinOutputWhenOneFile,
  reportListenError,
  stdoutBehindWarning,
  warnConnectionsLowered,
  warnIfCertificateInvalid,
  warnIfOpenToAnyone,
} from "./program-output.ts";
import { createServerReporter } from "./reporter.ts";
import { ListenError, type RunningServer, type ServerOptions, startServer, type TlsReload } from "./server.ts";
import { serveUntilStopped } from "./signals.ts";
import { workerAssignment } from "./workers/protocol.ts";
import { runSupervisor } from "./workers/supervisor.ts";
import { runWorker } from "./workers/worker.ts";

export interface ServerProgramOptions {
  host: string;
  port: number;
  /** `--listen`: when not empty, these listeners instead of host and port. */
  listen: ListenerAddress[];
  tls: TlsFiles | undefined;
  tlsHandshakeTimeoutMs: number;
  unixMode: number;
  framing: Framing;
  limits: ServerLimits;
  drainTimeoutMs: number;
  closeTimeoutMs: number;
  allow: readonly string[];
  deny: readonly string[];
  proxyProtocol: boolean;
  proxyFrom: readonly string[] | undefined;
  proxyHeaderTimeoutMs: number;
  /** Processes serving: 1 is this one; more makes this process their supervisor. */
  workers: number;
  json: boolean;
  quiet: boolean;
  logLevel: LogLevelName;
  /**
   * `--metrics`: where to serve /metrics and /healthz, and how many HTTP connections at once
   * (`--metrics-max-connections`); omitted, no HTTP listener.
   */
  metrics?: { host: string; port: number; maxConnections?: number };
  /** The package version, for socketlab_build_info. */
  version: string;
}

export async function runServerProgram(options: ServerProgramOptions): Promise<number> {
  await joinOutputWhenOneFile();
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

  let metrics: ProgramMetrics | undefined;
  try {
    metrics = await startProgramMetrics(options, async () => (server ? [server.snapshot()] : []));
    server = startServer({ ...serverOptionsOf(options), events });
  } catch (error) {
    await metrics?.stop();
    if (!(error instanceof ListenError)) throw error;
    reportListenError(logger, error);
    return ExitCode.failure;
  }
  metrics?.announce(logger);
  if (server.maxConnections < options.limits.maxConnections) warnConnectionsLowered(logger, server.maxConnections);
  warnIfOpenToAnyone(logger, server.listeners, options);
  warnIfCertificateInvalid(logger, options.tls);

  const running = server;
  const code = await serveUntilStopped({
    target: running,
    // Without a TLS listener the reload says so at debug level, not a reason to exit.
    reloadTls: () => reportTlsReload(running.reloadTls(), logger),
    metrics,
    messages,
    logger,
    options,
  });
  await metrics?.stop();
  return code;
}

/** What the library's startServer takes from the program's options. */
function serverOptionsOf(options: ServerProgramOptions): ServerOptions {
  const { host, port, listen, tls, tlsHandshakeTimeoutMs, unixMode, framing, limits } = options;
  const { drainTimeoutMs, closeTimeoutMs, allow, deny, proxyProtocol, proxyFrom, proxyHeaderTimeoutMs } = options;
  return {
    ...{ host, port, listen, tls, tlsHandshakeTimeoutMs, unixMode, framing, limits, drainTimeoutMs, closeTimeoutMs },
    ...{ allow, deny, proxyProtocol, proxyFrom, proxyHeaderTimeoutMs },
  };
}

/** How the program reports what SIGHUP did (reloadTls()): in a single server and in each worker. */
export function reportTlsReload(result: TlsReload, logger: Logger): void {
  if (result.status === "reloaded") {
    logger.info(`[TLS] Certificate reloaded (serial ${result.serial}): new connections get it`, {
      event: "tls-reloaded",
      serial: result.serial,
      listeners: result.listeners,
    });
  } else if (result.status === "no-tls") {
    logger.debug("SIGHUP ignored: no TLS listener to reload");
  } else {
    logger.warn(`[WARNING] TLS certificate not reloaded, the old one is still served: ${result.reason}`, {
      event: "tls-reload-failed",
      reason: result.reason,
    });
  }
}
