// The server: listeners accept, the admission step decides who is served, the registry holds
// the live connections, and shutdown drains them without losing an acknowledgement. This file
// only composes those parts; each lives in its own module.
import type { Socket } from "bun";
import { parseCidr } from "../net/cidr.ts";
import { frameNotice } from "../protocol/framing.ts";
import { notices } from "../protocol/messages.ts";
import {
  type AdmissionRule,
  accessList,
  addressKey,
  admit,
  connectionLimit,
  perAddressLimit,
  type Rejection,
} from "./admission.ts";
import { Connection, type ConnectionContext } from "./connection.ts";
import { copyServerStats, createServerStats, guardEvents, type ServerSnapshot, type ServerStats } from "./events.ts";
import { MAX_LINGERING_REJECTIONS, openFileLimit, resolveLimits } from "./limits.ts";
import { parseListenAddress } from "./listeners/address.ts";
import type { ListenerAddress, NetworkAddress } from "./listeners/listener.ts";
import { ListenError } from "./listeners/listener.ts";
import { openListeners } from "./listeners/open.ts";
import { loadTlsCredentials, type TlsCredentials, validityProblem } from "./listeners/tls-credentials.ts";
import { checkServerOptions, SERVER_DEFAULTS, type ServerOptions } from "./options.ts";
import { proxyProtocolStage } from "./proxy-stage.ts";
import { ConnectionRegistry } from "./registry.ts";
import { drain } from "./shutdown.ts";
import { type Acceptor, type SocketData, type SocketStage, socketHandlers } from "./socket-handlers.ts";

export type { ServerOptions } from "./options.ts";
export { ListenError };

export interface RunningServer extends AsyncDisposable {
  /** The address of the first TCP (or TLS) listener; "" and 0 when there are only Unix sockets. */
  readonly host: string;
  readonly port: number;
  /** Every listener, as bound (with the real port for port 0), in the order asked for. */
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
  /**
   * Reads the TLS certificate, key and client CA files again (a renewal): new connections get the
   * new ones, open connections keep theirs. When the new files are unusable nothing changes, and
   * the result says why.
   */
  reloadTls(): TlsReload;
}

/** What reloadTls() did: swapped the certificate, refused the new files (and why), or nothing. */
export type TlsReload =
  | { status: "reloaded"; listeners: number; serial: string }
  | { status: "refused"; reason: string }
  | { status: "no-tls" };

const shuttingDown: Rejection = { reason: "shutting-down", notice: notices.shuttingDown };

export function startServer(options: ServerOptions = {}): RunningServer {
  const addresses: ListenerAddress[] = options.listen?.length
    ? options.listen.map((address) => (typeof address === "string" ? parseListenAddress(address) : address))
    : [{ transport: "tcp", host: options.host ?? SERVER_DEFAULTS.host, port: options.port ?? SERVER_DEFAULTS.port }];
  checkServerOptions(options, addresses);
  const events = guardEvents(options.events ?? {});
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
  const capacity = connectionLimit(limits.maxConnections, options.wholeServerMaxConnections);
  // Who the client is counts before how full the server is: a refused client learns nothing more.
  const access = accessList((options.allow ?? []).map(parseCidr), (options.deny ?? []).map(parseCidr));
  const perAddress = perAddressLimit(limits.maxConnectionsPerAddress);
  const rules = [access, capacity, perAddress].filter((rule): rule is AdmissionRule => rule !== undefined);
  const tcpStages: SocketStage[] = options.proxyProtocol
    ? [
        proxyProtocolStage({
          proxyFrom: (options.proxyFrom ?? SERVER_DEFAULTS.proxyFrom).map(parseCidr),
          proxyHeaderTimeoutMs: options.proxyHeaderTimeoutMs ?? SERVER_DEFAULTS.proxyHeaderTimeoutMs,
        }),
      ]
    : [];
  let lingeringRejections = 0;
  let stopping: Promise<void> | undefined;
  /** Sockets still in their stages (a PROXY header, a TLS handshake): told when the server stops. */
  const waitingSockets = new Map<SocketData, Socket<SocketData>>();

  const turnAway = (socket: Socket<SocketData>, data: SocketData, rejection: Rejection): void => {
    const connection = new Connection(socket, data.peer.name, context);
    data.connection = connection;
    stats.connectionsRejected++;
    stats.rejected[rejection.reason]++;
    if (rejection.limit) connection.reportLimit(rejection.limit.kind, rejection.limit.detail);
    else if (rejection.detail) events.refused?.(data.peer.name, rejection.reason, rejection.detail);
    lingeringRejections++;
    connection.close(rejection.notice);
    // Under a flood, do not let notices in flight eat the spare file descriptors.
    if (lingeringRejections > MAX_LINGERING_REJECTIONS) connection.abort();
  };

  const acceptor: Acceptor = {
    // A client accepted just as the server began to stop is told so, not served.
    // A socket waiting for its stages holds a place under the limit; where its address is already
    // the client's (a TLS handshake), an address that is not let in must not hold one, nor may one
    // address hold more than its cap of them (a crowd of handshakes never begun would fill the
    // server for everyone else).
    screen: (peer, peerIsClient) =>
      stopping ? shuttingDown : admit(peerIsClient ? rules : [capacity], peer, registry),
    waiting(socket, data, change, peerIsClient = false) {
      if (change === 1) {
        data.waitingAddress = peerIsClient ? addressKey(data.peer) : undefined;
        registry.startWaiting(data.waitingAddress);
        waitingSockets.set(data, socket);
      } else {
        registry.stopWaiting(data.waitingAddress);
        data.waitingAddress = undefined;
        waitingSockets.delete(data);
      }
    },
    accept(socket, data) {
      const rejection = stopping ? shuttingDown : admit(rules, data.peer, registry);
      if (rejection) return turnAway(socket, data, rejection);
      const connection = new Connection(socket, data.peer.name, context);
      data.connection = connection;
      data.admitted = true;
      stats.connectionsAccepted++;
      registry.add(connection, addressKey(data.peer), data.peer.subject);
    },
    refuse: turnAway,
    closed(data) {
      if (!data.admitted) {
        lingeringRejections--;
        return;
      }
      registry.delete(data.connection!, addressKey(data.peer));
    },
  };

  let tlsCredentials: TlsCredentials | undefined = options.tls ? loadTlsCredentials(options.tls) : undefined;
  const listeners = openListeners(addresses, {
    handlers: (stages) => socketHandlers(acceptor, events, stages),
    tlsCredentials: () => tlsCredentials,
    tcpStages,
    tlsHandshakeTimeoutMs: options.tlsHandshakeTimeoutMs ?? SERVER_DEFAULTS.tlsHandshakeTimeoutMs,
    tlsFailed(peer, reason) {
      stats.tlsHandshakesFailed++;
      events.handshakeFailed?.(peer.name, reason);
    },
    noticeLine: (notice) => frameNotice(context.framing, notice),
    unixMode: options.unixMode ?? SERVER_DEFAULTS.unixMode,
    reusePort: options.reusePort ?? SERVER_DEFAULTS.reusePort,
  });
  const idleSweeper = registry.sweepIdle(limits.idleTimeoutMs);
  for (const listener of listeners) events.listening?.(listener.address);

  const stop = (): Promise<void> => {
    if (idleSweeper) clearInterval(idleSweeper);
    if (!stopping) {
      // Not yet served, but here: they get the same goodbye as the served ones, not a dropped socket.
      for (const [data, socket] of waitingSockets) {
        data.stage?.cancel("stopping");
        data.stage = undefined;
        data.waiting = false;
        acceptor.waiting(socket, data, -1);
        turnAway(socket, data, shuttingDown);
      }
    }
    stopping ??= drain({
      registry,
      listeners,
      timeoutMs: options.drainTimeoutMs ?? SERVER_DEFAULTS.drainTimeoutMs,
      events,
    });
    return stopping;
  };

  const first = listeners.find((listener) => listener.address.transport !== "unix")?.address as
    | NetworkAddress
    | undefined;
  return {
    host: first?.host ?? "",
    port: first?.port ?? 0,
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
      if (idleSweeper) clearInterval(idleSweeper);
      // Stopped for good: a later stop() has nothing to wait for, and reloadTls() opens nothing.
      stopping ??= Promise.resolve();
      registry.abortAll();
      for (const listener of listeners) listener.close();
    },
    holdInputUntil: (until) => registry.holdInputUntil(until),
    reloadTls() {
      const tlsListeners = listeners.filter((listener) => listener.reloadTls);
      if (!options.tls || tlsListeners.length === 0) return { status: "no-tls" };
      // A stopped listener must not start accepting again.
      if (stopping) return { status: "refused", reason: "the server is stopping" };
      try {
        const next = loadTlsCredentials(options.tls);
        // A reload is how a certificate is renewed: one that no client accepts now is a mistake
        // (an old file copied back, a clock that is wrong), and the one serving stays.
        const invalid = validityProblem(next);
        if (invalid) return { status: "refused", reason: invalid };
        for (const listener of tlsListeners) listener.reloadTls!(next);
        tlsCredentials = next;
        return { status: "reloaded", listeners: tlsListeners.length, serial: next.serial };
      } catch (error) {
        if (!(error instanceof ListenError)) throw error;
        return { status: "refused", reason: error.message };
      }
    },
  };
}
