// What a supervisor and its workers say to each other over the IPC channel Bun.spawn opens, and how
// a worker knows it is one. Messages are plain objects (JSON-safe), so either side can log them.
import type { ServerEvents, ServerSnapshot } from "../events.ts";
import type { ListenerAddress } from "../listeners/listener.ts";

/**
 * Set in a worker's environment: its number (1..N) and the ports every worker binds. The worker
 * runs the same command line as the supervisor; this is what makes it a worker instead.
 */
export const WORKER_ENV = "SOCKET_LAB_WORKER";

export interface WorkerAssignment {
  /** 1..count, as the `[WORKER] <n>` lines name it. */
  index: number;
  count: number;
  /**
   * The port each listener binds, in order (0 for a Unix socket, which has none). Port 0 is
   * picked by the first worker; the others, and any worker restarted later, bind the port it got.
   */
  ports?: number[];
}

/** Every server event but `message` (per-message lines go through the worker's stdout instead). */
export type ForwardedEvent = Exclude<keyof ServerEvents, "message" | "messageLines">;

/**
 * The events a worker forwards: listed so that a new ServerEvents member fails to compile here
 * until someone decides how a supervisor shows it.
 */
export const FORWARDED_EVENTS = {
  listening: true,
  connected: true,
  reset: true,
  disconnected: true,
  refused: true,
  limitHit: true,
  repliesUndelivered: true,
  socketError: true,
  handshakeFailed: true,
  shuttingDown: true,
  closed: true,
} as const satisfies Record<ForwardedEvent, true>;

/** An Error as it crosses the channel: what the log shows of it. */
export interface WireError {
  wireError: { message: string; stack?: string; code?: string };
}

export type WorkerMessage =
  /** Listening on every listener; `maxConnections` is the share in force (maybe lowered). */
  | { type: "ready"; listeners: ListenerAddress[]; maxConnections: number }
  /** Could not listen: the supervisor reports `message` and, at start-up, exits with it. */
  | { type: "failed"; message: string; code?: string }
  | { type: "event"; name: ForwardedEvent; args: unknown[] }
  | { type: "snapshot"; id: number; snapshot: ServerSnapshot };

export type SupervisorMessage =
  /** Drain and exit, as a signal to a single server does. */
  | { type: "stop" }
  /** Read the TLS certificate and key again, as SIGHUP to a single server does. */
  | { type: "reload-tls" }
  /** Answer with a `snapshot` message carrying the same id. */
  | { type: "collect"; id: number };

export function toWire(arg: unknown): unknown {
  if (!(arg instanceof Error)) return arg;
  const { code } = arg as NodeJS.ErrnoException;
  return { wireError: { message: arg.message, stack: arg.stack, code } } satisfies WireError;
}

export function fromWire(arg: unknown): unknown {
  const wire = (arg as WireError | null)?.wireError;
  if (!wire || typeof wire !== "object") return arg;
  const error = Object.assign(new Error(wire.message), { code: wire.code });
  if (wire.stack) error.stack = wire.stack;
  return error;
}

/** The assignment from this process's environment, if a supervisor started it (with a channel). */
export function workerAssignment(): WorkerAssignment | undefined {
  const value = process.env[WORKER_ENV];
  // Without an IPC channel no supervisor is listening: a stray variable must not make a worker.
  if (value === undefined || typeof process.send !== "function") return undefined;
  return JSON.parse(value) as WorkerAssignment;
}
