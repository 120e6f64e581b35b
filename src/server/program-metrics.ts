// `--metrics` for the process the operator started: one server answers for itself, a supervisor
// for its workers. The HTTP listener binds before any client listener, so a busy metrics port
// stops the program before a client is accepted; /healthz turns to draining at the first signal.
import type { Logger } from "../output/logger.ts";
import type { ServerProgramOptions } from "./main.ts";
import type { MetricsServer, WorkerSnapshot } from "./metrics/http.ts";

export interface ProgramMetrics {
  /** Logs `[METRICS] Serving metrics on <url>`, once the clients' listeners are up too. */
  announce(logger: Logger): void;
  /** From now on /healthz answers 503 draining. */
  markDraining(): void;
  stop(): Promise<void>;
}

/** Starts the endpoint when --metrics asks for one; throws ListenError when it cannot listen. */
export async function startProgramMetrics(
  options: ServerProgramOptions,
  collect: () => Promise<readonly WorkerSnapshot[]>,
): Promise<ProgramMetrics | undefined> {
  if (!options.metrics) return undefined;
  const { startMetricsServer } = await import("./metrics/http.ts");
  let draining = false;
  const endpoint: MetricsServer = await startMetricsServer({
    ...options.metrics,
    version: options.version,
    collect,
    health: () => (draining ? "draining" : "serving"),
  });
  return {
    announce(logger) {
      logger.info(`[METRICS] Serving metrics on ${endpoint.url}`, {
        event: "metrics",
        url: endpoint.url,
        host: endpoint.host,
        port: endpoint.port,
      });
    },
    markDraining() {
      draining = true;
    },
    stop: () => endpoint.stop(),
  };
}
