// What the server reports. The library calls these; the CLI turns them into log lines
// (reporter.ts), and tests record them. All are optional.

import type { RejectionReason } from "./admission.ts";
import type { ListenerAddress } from "./listeners/listener.ts";

export type LimitKind = "connections" | "message-bytes" | "idle" | "output";

export interface ServerEvents {
  /** One per listener, once it is listening. */
  listening?(address: ListenerAddress): void;
  connected?(peer: string, active: number): void;
  /** One per received message, in order; `text` is the message as decoded (not escaped). */
  message?(peer: string, text: string): void;
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
  shuttingDown?(): void;
  closed?(): void;
}

export interface ServerStats {
  connectionsAccepted: number;
  connectionsRejected: number;
  /** connectionsRejected by reason (each turned-away client counts in one). */
  rejections: Record<RejectionReason, number>;
  messagesReceived: number;
  /** Reply bytes dropped because a closing client stopped reading them (see repliesUndelivered). */
  undeliveredReplyBytes: number;
  limitHits: Record<LimitKind, number>;
}
