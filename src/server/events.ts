// What the server reports. The library calls these; the CLI turns them into log lines
// (reporter.ts), and tests record them. All are optional.

import type { ListenerAddress } from "./listeners/listener.ts";

export type LimitKind = "connections" | "message-bytes" | "idle" | "output";

export interface ServerEvents {
  /** One per listener, once it is listening. */
  listening?(address: ListenerAddress): void;
  /** An admitted client; `subject` is its certificate's name, with mutual TLS. */
  connected?(peer: string, active: number, subject?: string): void;
  /** One per received message, in order; `text` is the message as decoded (not escaped). */
  message?(peer: string, text: string): void;
  reset?(peer: string): void;
  disconnected?(peer: string, active: number): void;
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

export interface ServerStats {
  connectionsAccepted: number;
  connectionsRejected: number;
  messagesReceived: number;
  /** Reply bytes dropped because a closing client stopped reading them (see repliesUndelivered). */
  undeliveredReplyBytes: number;
  /** TLS clients whose handshake failed or timed out (never admitted, so not among the rejected). */
  tlsHandshakesFailed: number;
  limitHits: Record<LimitKind, number>;
}
