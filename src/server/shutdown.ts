// A graceful stop: accept no one new, let every connection finish (the acks it is owed, then
// `ERROR server shutting down`, then close), and end once all are gone or the drain timeout hits.
import { notices } from "../protocol/messages.ts";
import type { ServerEvents } from "./events.ts";
import type { Listener } from "./listeners/listener.ts";
import type { ConnectionRegistry } from "./registry.ts";

export interface DrainOptions {
  registry: ConnectionRegistry;
  listeners: readonly Listener[];
  timeoutMs: number;
  events: ServerEvents;
}

export function drain({ registry, listeners, timeoutMs, events }: DrainOptions): Promise<void> {
  return new Promise<void>((resolve) => {
    events.shuttingDown?.();
    for (const listener of listeners) listener.stopAccepting();
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      registry.whenEmpty(undefined);
      for (const listener of listeners) listener.close();
      events.closed?.();
      resolve();
    };
    const deadline = setTimeout(() => {
      // Aborting closes synchronously in Bun; finish() runs once all the same.
      registry.abortAll();
      finish();
    }, timeoutMs);
    registry.whenEmpty(finish);
    registry.closeAll(notices.shuttingDown);
  });
}
