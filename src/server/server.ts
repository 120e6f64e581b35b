// The server: listeners accept, the admission step decides who is served, the registry holds
// the live connections, and shutdown drains them without losing an acknowledgement. This file
// only composes those parts; each lives in its own module.
import type { Socket } from "bun";
import { notices } from "../protocol/messages.ts";
import { type AdmissionRule, admit, connectionLimit, type Rejection } from "./admission.ts";
import { Connection, type ConnectionContext } from "./connection.ts";
import { copyServerStats, createServerStats, type ServerSnapshot, type ServerStats } from "./events.ts";
import { MAX_LINGERING_REJECTIONS, openFileLimit, resolveLimits } from "./limits.ts";
import type { Listener, ListenerAddress } from "./listeners/listener.ts";
import { listenTcp } from "./listeners/tcp.ts";
import { SERVER_DEFAULTS, type ServerOptions } from "./options.ts";
import type { Peer } from "./peer.ts";
import { ConnectionRegistry } from "./registry.ts";
import { drain } from "./shutdown.ts";
import { type SocketData, socketHandlers } from "./socket-handlers.ts";

export { ListenError } from "./listeners/listener.ts";
export type { ServerOptions } from "./options.ts";

export interface RunningServer extends AsyncDisposable {
  /** The address of the (first) listener. */
  readonly host: string;
  readonly port: number;
  readonly listeners: readonly ListenerAddress[];
  /** The live counters (they change as the server runs). */
  readonly stats: ServerStats;
  readonly activeConnections: number;
  /** A copy of the counters and the live connection count, for a metrics scrape or another process. */
  snapshot(): ServerSnapshot;
  /** The connection limit in force (the requested one, lowered to fit the open-file limit). */
  readonly maxConnections: number;
  /**
   * Graceful stop: accept no one new, send each client its outstanding acknowledgements and
   * `ERROR server shutting down`, and resolve once all are closed or the drain timeout ends.
   * Safe to call twice (the same promise). `await using` calls it at the end of the scope.
   */
  stop(): Promise<void>;
  /** Immediate stop: drop every connection now. */
  kill(): void;
  /**
   * Stops reading from every client (new ones too) until `until` settles: the operator's output is
   * behind, and messages are better left in the clients' socket buffers than piled up in memory.
   */
  holdInputUntil(until: Promise<unknown>): void;
}

const shuttingDown: Rejection = { reason: "shutting-down", notice: notices.shuttingDown };

export function startServer(options: ServerOptions = {}): RunningServer {
  const events = options.events ?? {};
  const { limits } = resolveLimits(options.limits, openFileLimit());
  const stats = createServerStats();
  const context: ConnectionContext = {
    framing: options.framing ?? SERVER_DEFAULTS.framing,
    limits,
    events,
    stats,
    closeTimeoutMs: options.closeTimeoutMs ?? SERVER_DEFAULTS.closeTimeoutMs,
  };
  const registry = new ConnectionRegistry(events);
  const rules: AdmissionRule[] = [connectionLimit(limits.maxConnections)];
  let lingeringRejections = 0;
  let stopping: Promise<void> | undefined;

  const handlers = socketHandlers(
    {
      accept(socket: Socket<SocketData>, peer: Peer): SocketData {
        const connection = new Connection(socket, peer.name, context);
        // A client accepted just as the server began to stop is told so, not served.
        const rejection = stopping ? shuttingDown : admit(rules, peer, registry);
        if (rejection) {
          stats.connectionsRejected++;
          stats.rejected[rejection.reason]++;
          if (rejection.limit) connection.reportLimit(rejection.limit.kind, rejection.limit.detail);
          lingeringRejections++;
          connection.close(rejection.notice);
          // Under a flood, do not let notices in flight eat the spare file descriptors.
          if (lingeringRejections > MAX_LINGERING_REJECTIONS) connection.abort();
          return { connection, admitted: false, reset: false };
        }
        stats.connectionsAccepted++;
        registry.add(connection);
        return { connection, admitted: true, reset: false };
      },
      closed({ connection, admitted }) {
        if (!admitted) {
          lingeringRejections--;
          return;
        }
        registry.delete(connection);
      },
    },
    events,
  );

  const host = options.host ?? SERVER_DEFAULTS.host;
  const listeners: Listener[] = [
    listenTcp(
      { host, port: options.port ?? SERVER_DEFAULTS.port, reusePort: options.reusePort ?? SERVER_DEFAULTS.reusePort },
      handlers,
    ),
  ];
  const idleSweeper = registry.sweepIdle(limits.idleTimeoutMs);
  for (const listener of listeners) events.listening?.(listener.address);

  const stop = (): Promise<void> => {
    if (idleSweeper) clearInterval(idleSweeper);
    stopping ??= drain({
      registry,
      listeners,
      timeoutMs: options.drainTimeoutMs ?? SERVER_DEFAULTS.drainTimeoutMs,
      events,
    });
    return stopping;
  };

  const first = listeners[0]!.address;
  return {
    host: first.host,
    port: first.port,
    listeners: listeners.map((listener) => listener.address),
    stats,
    maxConnections: limits.maxConnections,
    get activeConnections() {
      return registry.size;
    },
    snapshot: () => ({ stats: copyServerStats(stats), active: registry.size }),
    stop,
    [Symbol.asyncDispose]: stop,
    kill() {
      registry.abortAll();
      for (const listener of listeners) listener.close();
    },
    holdInputUntil: (until) => registry.holdInputUntil(until),
  };
}
