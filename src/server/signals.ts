// SIGINT and SIGTERM for the process the operator started (one server, or the supervisor): the
// first drains, a second exits at once.
import { ExitCode } from "../cli/exit-codes.ts";

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
