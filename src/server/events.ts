// What the server reports. The library calls these; the CLI turns them into log lines
// (reporter.ts), and tests record them. All are optional.

import type { RejectionReason } from "./admission.ts";
import type { ListenerAddress } from "./listeners/listener.ts";

export type LimitKind = "connections" | "message-bytes" | "idle" | "output";

export interface ServerEvents {
  /** One per listener, once it is listening. */
  listening?(address: ListenerAddress): void;
  /** An admitted client; `subject` is its certificate's name, with mutual TLS. */
  connected?(peer: string, active: number, subject?: string): void;
  /** One per received message, in order; `text` is the message as decoded (not escaped). */
  message?(peer: string, text: string): void;
  /**
   * The same event for a read's messages at once, as the bytes that came, where no string is
   * needed: complete lines of line framing, each ending in LF (a CR before the LF is not part of
   * the message), valid UTF-8. Used only alongside `message`, which still gets every other
   * message, in order with these.
   */
  messageLines?(peer: string, lines: Buffer): void;
  reset?(peer: string): void;
  disconnected?(peer: string, active: number): void;
  /**
   * A client was turned away for a reason other than a limit hit (those are limitHit): by the
   * allow or deny list, the per-address cap, or the PROXY protocol (an untrusted source, a bad
   * header). `detail` goes after the peer: `is not in the allow list`.
   */
  refused?(peer: string, reason: RejectionReason, detail: string): void;
  /** A limit was hit; logged once per connection. */
  limitHit?(peer: string, limit: LimitKind, detail: string): void;
  /**
   * A closing client stopped reading: after the close timeout without progress, `bytes` of replies
   * it was owed were dropped with the connection.
   */
  repliesUndelivered?(peer: string, bytes: number): void;
  /** A socket error other than a reset (reported, never thrown). */
  socketError?(peer: string, error: Error): void;
  /** A TLS client was not served: its handshake failed or did not finish in time (one per client). */
  handshakeFailed?(peer: string, reason: string): void;
  shuttingDown?(): void;
  closed?(): void;
}

const EVENT_NAMES = [
  "listening",
  "connected",
  "message",
  "messageLines",
  "reset",
  "disconnected",
  "refused",
  "limitHit",
  "repliesUndelivered",
  "socketError",
  "handshakeFailed",
  "shuttingDown",
  "closed",
] as const satisfies ReadonlyArray<keyof ServerEvents>;
// Every event is in the list: a new one left out would not compile.
const everyEventNamed: Exclude<keyof ServerEvents, (typeof EVENT_NAMES)[number]> extends never ? true : never = true;
void everyEventNamed;

/**
 * The caller's events, made safe to call from the server's own bookkeeping. One that throws must
 * not leave the server half-way: a stop that never settles, listeners left open, a timer's sweep
 * cut short. Its error is thrown again on a later turn, where the host sees it as any uncaught
 * exception (as with a throwing listener of Node's net.Server), and the server's state is whole.
 */
export function guardEvents(events: ServerEvents): ServerEvents {
  const guarded: Record<string, unknown> = {};
  // By name, not by the object's own keys: a class instance keeps its methods on its prototype.
  for (const name of EVENT_NAMES) {
    const call: unknown = events[name];
    if (typeof call !== "function") continue;
    // Three arguments at most (connected's): fixed, so a per-message event makes no array per call.
    guarded[name] = (a: unknown, b: unknown, c: unknown) => {
      try {
        call.call(events, a, b, c);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    };
  }
  return guarded as ServerEvents;
}

/**
 * The server's counters since it started: plain numbers, bumped where each thing happens and read
 * at scrape time (src/server/metrics/), so a copy of them is exact for the moment it was taken.
 */
export interface ServerStats {
  /** Connections admitted to be served (a client turned away counts only as rejected). */
  connectionsAccepted: number;
  /** Clients turned away, for any reason: the sum of `rejected`. */
  connectionsRejected: number;
  /** connectionsRejected by reason (each turned-away client counts in one). */
  rejected: Record<RejectionReason, number>;
  messagesReceived: number;
  /** Bytes read from clients, whatever became of them (framed, dropped after a goodbye). */
  receivedBytes: number;
  /** Bytes the kernel took from the server's writes (acks and notices), not the bytes queued. */
  sentBytes: number;
  /** Reply bytes dropped because a closing client stopped reading them (see repliesUndelivered). */
  undeliveredReplyBytes: number;
  /** TLS clients whose handshake failed or timed out (never admitted, so not among the rejected). */
  tlsHandshakesFailed: number;
  limitHits: Record<LimitKind, number>;
}

/** The counters and the live connections at one moment: what a metrics scrape reads. */
export interface ServerSnapshot {
  stats: ServerStats;
  /** Connections being served. */
  active: number;
}

/** Every counter at 0, every reason and limit present (so a scrape shows each from the start). */
export function createServerStats(): ServerStats {
  return {
    connectionsAccepted: 0,
    connectionsRejected: 0,
    rejected: { full: 0, denied: 0, "per-address": 0, proxy: 0, "shutting-down": 0 },
    messagesReceived: 0,
    receivedBytes: 0,
    sentBytes: 0,
    undeliveredReplyBytes: 0,
    tlsHandshakesFailed: 0,
    limitHits: { connections: 0, "message-bytes": 0, idle: 0, output: 0 },
  };
}

/** A copy that later counting does not change (and that survives a trip through JSON). */
export function copyServerStats(stats: ServerStats): ServerStats {
  return { ...stats, rejected: { ...stats.rejected }, limitHits: { ...stats.limitHits } };
}

/** `messageLines` handlers that keep nothing of `lines` once they return (the program's own). */
const LINES_COPIED = new WeakSet<NonNullable<ServerEvents["messageLines"]>>();

/**
 * Marks `handler` as keeping nothing of `lines` past the call (it copies what it needs), so the
 * server may free a large read as soon as it is handled. A library user's handler is never marked:
 * a read it may keep is left to the garbage collector.
 */
export function copiesLines<Handler extends NonNullable<ServerEvents["messageLines"]>>(handler: Handler): Handler {
  LINES_COPIED.add(handler);
  return handler;
}

/** Whether the server may free a read once `messageLines` (if any) has been called with it. */
export function readsCanBeFreed(events: ServerEvents): boolean {
  return events.messageLines === undefined || LINES_COPIED.has(events.messageLines);
}
