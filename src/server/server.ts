// The server: one event loop, many connections. It accepts, applies the connection limit, hands
// bytes to each Connection, sweeps idle ones, and shuts down without losing an acknowledgement.
import type { TCPSocketListener } from "bun";
import { formatAddress } from "../net/address.ts";
import { type Framing, notices } from "../protocol/messages.ts";
import { Connection, type ConnectionContext } from "./connection.ts";
import type { ServerEvents, ServerStats } from "./events.ts";
import { connectionCeiling, DEFAULT_LIMITS, RESERVED_FILE_DESCRIPTORS, type ServerLimits } from "./limits.ts";

export interface ServerOptions {
  host: string;
  port: number;
  framing?: Framing;
  limits?: Partial<ServerLimits>;
  /** On stop(): how long to wait for connections to finish before dropping them. */
  drainTimeoutMs?: number;
  /**
   * How long a closing connection may go without progress (the peer reading its last replies,
   * then hanging up) before it is closed anyway. The CLI's --close-timeout.
   */
  lingerMs?: number;
  events?: ServerEvents;
}

export interface RunningServer {
  readonly host: string;
  readonly port: number;
  readonly stats: ServerStats;
  readonly activeConnections: number;
  /** The connection limit in force (the requested one, lowered to fit the open-file limit). */
  readonly maxConnections: number;
  /**
   * Graceful stop: accept no one new, send each client its outstanding acknowledgements and
   * `ERROR server shutting down`, and resolve once all are closed or the drain timeout ends.
   * Safe to call twice (the same promise).
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

/** Listening failed; `message` is one plain sentence for the operator. */
export class ListenError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = "ListenError";
  }
}

/** Clients turned away at once that may still be reading their notice; past this, no linger. */
const MAX_LINGERING_REJECTIONS = RESERVED_FILE_DESCRIPTORS / 2;

export function startServer(options: ServerOptions): RunningServer {
  const events = options.events ?? {};
  const requested = { ...DEFAULT_LIMITS, ...options.limits };
  const ceiling = connectionCeiling();
  const limits: ServerLimits = {
    ...requested,
    maxConnections: ceiling === undefined ? requested.maxConnections : Math.min(requested.maxConnections, ceiling),
  };
  const stats: ServerStats = {
    connectionsAccepted: 0,
    connectionsRejected: 0,
    messagesReceived: 0,
    undeliveredReplyBytes: 0,
    limitHits: { connections: 0, "message-bytes": 0, idle: 0, output: 0 },
  };
  const context: ConnectionContext = {
    framing: options.framing ?? "line",
    limits,
    events,
    stats,
    lingerMs: options.lingerMs ?? 5000,
  };
  const drainTimeoutMs = options.drainTimeoutMs ?? 5000;

  const active = new Set<Connection>();
  let lingeringRejections = 0;
  let holdingInput = false;
  let stopping: Promise<void> | undefined;
  let allClosed: (() => void) | undefined;

  const onClosed = (connection: Connection, counted: boolean) => {
    connection.released();
    if (!counted) {
      lingeringRejections--;
      return;
    }
    active.delete(connection);
    events.disconnected?.(connection.peer, active.size);
    if (active.size === 0) allClosed?.();
  };

  type SocketData = { connection: Connection; counted: boolean; reset: boolean };
  let listener: TCPSocketListener<SocketData>;
  try {
    listener = Bun.listen<SocketData>({
      hostname: options.host,
      port: options.port,
      // Keep the socket writable after the client's FIN: its last acks are still owed.
      allowHalfOpen: true,
      socket: {
        open(socket) {
          // Read once: each read asks the kernel, and a client can reset in between.
          const { remoteAddress, remotePort } = socket;
          // A client that reset right after the accept is gone before we see it: Bun no longer
          // knows its address or port. Nothing to serve (its acks could not be sent), count or log.
          if (!remoteAddress || typeof remotePort !== "number") return socket.terminate();
          // Bun shares one `data` object across sockets unless each gets its own (BUN_NOTES.md).
          const peer = formatAddress(remoteAddress, remotePort);
          const connection = new Connection(socket, peer, context);
          // Bun's own socket timeout is a coarse ~4 s tick that does not close; ours is exact.
          socket.timeout(0);
          const full = active.size >= limits.maxConnections;
          socket.data = { connection, counted: !full && !stopping, reset: false };
          if (!socket.data.counted) {
            stats.connectionsRejected++;
            connection.reportLimit("connections", `server is full (${limits.maxConnections} connections)`);
            lingeringRejections++;
            connection.close(notices.serverFull);
            // Under a flood, do not let notices in flight eat the spare file descriptors.
            if (lingeringRejections > MAX_LINGERING_REJECTIONS) connection.abort();
            return;
          }
          stats.connectionsAccepted++;
          active.add(connection);
          if (holdingInput) connection.hold(true);
          events.connected?.(peer, active.size);
        },
        data(socket, chunk) {
          try {
            socket.data.connection.receive(chunk);
          } catch (error) {
            // A bug of ours must cost one connection, loudly, not leave it hanging unanswered.
            events.socketError?.(socket.data.connection.peer, error as Error);
            socket.data.connection.abort();
          }
        },
        drain(socket) {
          socket.data.connection.drained();
        },
        end(socket) {
          socket.data.connection.ended();
        },
        error(socket, error) {
          // Before `open` set it up (see there), a socket has no data and nothing to report.
          const data = socket.data as SocketData | undefined;
          if (!data) return;
          const code = (error as NodeJS.ErrnoException).code;
          if (code === "ECONNRESET" || code === "EPIPE") {
            if (!data.reset && data.counted) events.reset?.(data.connection.peer);
            data.reset = true;
            return;
          }
          events.socketError?.(data.connection.peer, error);
        },
        close(socket, error) {
          const data = socket.data;
          if (!data || data.connection.state === "closed") return;
          const code = (error as NodeJS.ErrnoException | undefined)?.code;
          if (code === "ECONNRESET" && !data.reset && data.counted) {
            data.reset = true;
            events.reset?.(data.connection.peer);
          }
          onClosed(data.connection, data.counted);
        },
      },
    });
  } catch (error) {
    throw listenError(error, options.host, options.port);
  }

  const idleSweeper = startIdleSweeper(active, limits.idleTimeoutMs);
  const address = { host: options.host, port: listener.port };
  events.listening?.(address);

  const stop = (): Promise<void> => {
    stopping ??= new Promise<void>((resolve) => {
      events.shuttingDown?.();
      // stop(false) stops accepting and leaves open sockets alone: they get their goodbye.
      listener.stop(false);
      if (idleSweeper) clearInterval(idleSweeper);
      const finish = () => {
        clearTimeout(deadline);
        listener.stop(true);
        events.closed?.();
        resolve();
      };
      const deadline = setTimeout(() => {
        // abort() closes synchronously in Bun, and the last close would call finish() too:
        // [CLOSED] is reported once. Anything not closed is gone with the listener.
        allClosed = undefined;
        for (const connection of active) connection.abort();
        finish();
      }, drainTimeoutMs);
      allClosed = finish;
      if (active.size === 0) return finish();
      for (const connection of active) connection.close(notices.shuttingDown);
    });
    return stopping;
  };

  return {
    host: address.host,
    port: address.port,
    stats,
    maxConnections: limits.maxConnections,
    get activeConnections() {
      return active.size;
    },
    stop,
    kill() {
      for (const connection of active) connection.abort();
      listener.stop(true);
    },
    holdInputUntil(until) {
      if (holdingInput) return;
      holdingInput = true;
      for (const connection of active) connection.hold(true);
      void until.finally(() => {
        holdingInput = false;
        for (const connection of active) connection.hold(false);
      });
    },
  };
}

/** Checks idle clients a few times per timeout period, so one closes within ~10% of its limit. */
function startIdleSweeper(connections: Set<Connection>, idleTimeoutMs: number): Timer | undefined {
  if (idleTimeoutMs <= 0) return undefined;
  const period = Math.min(1000, Math.max(50, idleTimeoutMs / 10));
  const timer = setInterval(() => {
    const now = performance.now();
    for (const connection of connections) {
      if (connection.state === "open" && now - connection.lastActivityAt >= idleTimeoutMs) {
        connection.reportLimit("idle", `no input for ${idleTimeoutMs / 1000} s`);
        connection.close(notices.idleTimeout);
      }
    }
  }, period);
  timer.unref();
  return timer;
}

function listenError(error: unknown, host: string, port: number): ListenError {
  const code = (error as NodeJS.ErrnoException).code;
  const where = formatAddress(host, port);
  switch (code) {
    case "EADDRINUSE":
      return new ListenError(`Address ${where} is already in use`, code);
    case "EACCES":
    case "EPERM":
      return new ListenError(`Permission denied to listen on ${where}`, code);
    case "EADDRNOTAVAIL":
      return new ListenError(`Address ${host} is not available on this machine`, code);
    case "ENOTFOUND":
    case "EAI_NONAME":
      return new ListenError(`Cannot resolve host ${host}`, code);
    default:
      return new ListenError(`Cannot listen on ${where}: ${(error as Error).message ?? String(error)}`, code);
  }
}
