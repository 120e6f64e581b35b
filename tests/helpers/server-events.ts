// Records what an in-process server reports (src/server/events.ts), in order, so tests can wait
// for an event and compare the sequence with what a user would see in the log.

import { DEADLINE_MS, eventually } from "../../harness/wait.ts";
import type { RejectionReason } from "../../src/server/admission.ts";
import type { LimitKind, ServerEvents } from "../../src/server/events.ts";
import type { ListenerAddress } from "../../src/server/listeners/listener.ts";

export type RecordedEvent =
  | { type: "listening"; address: ListenerAddress }
  | { type: "connected"; peer: string; active: number; subject?: string }
  | { type: "message"; peer: string; text: string }
  | { type: "reset"; peer: string }
  | { type: "disconnected"; peer: string; active: number }
  | { type: "refused"; peer: string; reason: RejectionReason; detail: string }
  | { type: "limitHit"; peer: string; limit: LimitKind }
  | { type: "repliesUndelivered"; peer: string; bytes: number }
  | { type: "socketError"; peer: string; message: string }
  | { type: "handshakeFailed"; peer: string; reason: string }
  | { type: "shuttingDown" }
  | { type: "closed" };

export class EventRecorder {
  readonly log: RecordedEvent[] = [];

  readonly events: Required<ServerEvents> = {
    listening: (address) => this.push({ type: "listening", address }),
    connected: (peer, active, subject) =>
      this.push(
        subject === undefined ? { type: "connected", peer, active } : { type: "connected", peer, active, subject },
      ),
    message: (peer, text) => this.push({ type: "message", peer, text }),
    // Taken one message at a time, as `message` would have had them: what the server hands over
    // this way must read the same.
    messageLines: (peer, lines) => {
      const text = lines.toString("utf8", 0, lines.length - 1);
      for (const line of text.split("\n")) this.push({ type: "message", peer, text: line.replace(/\r$/, "") });
    },
    reset: (peer) => this.push({ type: "reset", peer }),
    disconnected: (peer, active) => this.push({ type: "disconnected", peer, active }),
    refused: (peer, reason, detail) => this.push({ type: "refused", peer, reason, detail }),
    limitHit: (peer, limit) => this.push({ type: "limitHit", peer, limit }),
    repliesUndelivered: (peer, bytes) => this.push({ type: "repliesUndelivered", peer, bytes }),
    socketError: (peer, error) => this.push({ type: "socketError", peer, message: error.message }),
    handshakeFailed: (peer, reason) => this.push({ type: "handshakeFailed", peer, reason }),
    shuttingDown: () => this.push({ type: "shuttingDown" }),
    closed: () => this.push({ type: "closed" }),
  };

  /** The recorded events of one type, in order. */
  of<T extends RecordedEvent["type"]>(type: T): Array<Extract<RecordedEvent, { type: T }>> {
    return this.log.filter((event): event is Extract<RecordedEvent, { type: T }> => event.type === type);
  }

  /** The texts of the messages received from `peer` (or from everyone), in order. */
  messages(peer?: string): string[] {
    return this.of("message")
      .filter((event) => peer === undefined || event.peer === peer)
      .map((event) => event.text);
  }

  /** Resolves once `check` holds for the log; rejects after the deadline, showing the log. */
  until(check: (recorder: EventRecorder) => boolean, what: string, deadlineMs = DEADLINE_MS): Promise<void> {
    return eventually(
      () => check(this),
      deadlineMs,
      () => `${what}; events:\n${this.log.map((event) => JSON.stringify(event)).join("\n")}`,
    );
  }

  private push(event: RecordedEvent): void {
    this.log.push(event);
  }
}
