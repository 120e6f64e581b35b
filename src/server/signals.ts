// SIGINT and SIGTERM for the process the operator started (one server, or the supervisor): the
// first drains, a second exits at once.
import { ExitCode } from "../cli/exit-codes.ts";
import type { Logger } from "../output/logger.ts";
import { flushWithin, type LineSink } from "../output/sink.ts";
import type { ProgramMetrics } from "./program-metrics.ts";
import { warnUnflushed } from "./program-output.ts";

export interface Stoppable {
  /** Graceful: resolves once every client is drained (or the drain timeout ends). */
  stop(): Promise<void>;
  /** At once: drop everything. */
  kill(): void;
}

/** Resolves with exit code 0 once a signal's drain is over. */
export function stopOnSignals(target: Stoppable, { json }: { json: boolean }): Promise<number> {
  const { promise, resolve } = Promise.withResolvers<number>();
  let signals = 0;
  const onSignal = () => {
    signals++;
    if (signals > 1) {
      // A second Ctrl+C: the operator does not want to wait for the drain, or for stdout.
      target.kill();
      process.exit(ExitCode.interrupted);
    }
    // The tutorial's Ctrl+C leaves "^C" on the line; start ours on a fresh one.
    if (process.stderr.isTTY && !json) process.stderr.write("\n");
    void target.stop().then(() => resolve(ExitCode.ok));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return promise;
}

export interface ServingProgram {
  /** What the signals stop: the one server, or the supervisor with its workers. */
  target: Stoppable;
  /** SIGHUP: read the TLS files again (unhandled, SIGHUP would end the process). */
  reloadTls(): void;
  metrics: ProgramMetrics | undefined;
  /** The per-message lines on stdout, if printed. */
  messages: LineSink | undefined;
  logger: Logger;
  options: { json: boolean; drainTimeoutMs: number };
}

/**
 * The program's life once it serves, the same with or without workers: SIGHUP reloads TLS;
 * the first SIGINT/SIGTERM marks /healthz draining (so a balancer stops sending) and drains;
 * then stdout gets at most the drain timeout to take the last lines. Resolves with the exit code.
 */
export async function serveUntilStopped(program: ServingProgram): Promise<number> {
  const { target, metrics, messages, logger, options } = program;
  process.on("SIGHUP", () => program.reloadTls());
  const code = await stopOnSignals(
    {
      stop: () => {
        metrics?.markDraining();
        return target.stop();
      },
      kill: () => target.kill(),
    },
    options,
  );
  if (messages && !(await flushWithin(messages, options.drainTimeoutMs))) warnUnflushed(logger);
  return code;
}
