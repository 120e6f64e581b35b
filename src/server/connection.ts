// One client connection on the server: framing in, acknowledgements out, limits, and a goodbye
// that loses nothing. It sees the socket only through a few methods, so it does not care how
// the connection arrived (TCP today; TLS, unix sockets or a PROXY header later).
import { Outbox, type WritableSocket } from "../net/outbox.ts";
import { releaseRead } from "../net/release-read.ts";
import {
  createDeframer,
  type Deframer,
  decodeLines,
  frameMessage,
  frameNotice,
  type LinesHandler,
  splitLines,
} from "../protocol/framing.ts";
import { ackFor, countLineBreaks, type Framing, LineAckBuilder, notices } from "../protocol/messages.ts";
import { type LimitKind, readsCanBeFreed, type ServerEvents, type ServerStats } from "./events.ts";
import type { ServerLimits } from "./limits.ts";

/** What the connection needs of Bun's socket. */
export interface ServerSocket extends WritableSocket {
  pause(): void;
  resume(): void;
  shutdown(): void;
  end(): void;
}

/** Shared by every connection of one server. */
export interface ConnectionContext {
  readonly framing: Framing;
  readonly limits: ServerLimits;
  readonly events: ServerEvents;
  readonly stats: ServerStats;
  /**
   * How long a closing connection waits for progress: for the peer to read more of the replies
   * still owed, and then to hang up. A peer that keeps reading is never cut off.
   */
  readonly closeTimeoutMs: number;
}

type State = "open" | "closing" | "closed";

/** One for the process: a read's acks are built and written before the next read is handled. */
const lineAcks = new LineAckBuilder();

export class Connection {
  state: State = "open";
  /**
   * performance.now() of the last activity known (input, or the client reading replies), for the
   * idle timeout. A read only sets `inputSeen`, and silentFor() stamps the time when it finds it: a
   * clock read per read was ~0.05-0.1 us of the ~1.1 us of user CPU a lockstep message costs
   * (`bun bench/ab.ts`). Never earlier than the last input, so a client is never taken for idle
   * before its limit.
   */
  private lastActivityAt = performance.now();
  /** Input came since silentFor() last looked. */
  private inputSeen = false;
  private readonly outbox: Outbox;
  private readonly deframer: Deframer;
  /** Whether a large read is freed once handled: not while a library user's event may keep it. */
  private readonly freesReads: boolean;
  /** Reading is paused while this client does not read its replies (backpressure)... */
  private waitingForPeer = false;
  /** ...or while the server holds every client's input (its own stdout is behind). */
  private held = false;
  private socketPaused = false;
  private peerEnded = false;
  /** FIN (or the full close) is sent: the goodbye is written. */
  private goodbyeWritten = false;
  private closeTimer: Timer | undefined;
  private readonly limitsReported = new Set<LimitKind>();

  constructor(
    private readonly socket: ServerSocket,
    readonly peer: string,
    private readonly context: ConnectionContext,
  ) {
    this.outbox = new Outbox(socket, context.stats);
    this.deframer = createDeframer(context.framing, context.limits.maxMessageBytes);
    // When nothing needs a message as text (no `[peer] text` line, --quiet, or one that can be
    // made from bytes), line framing's acks are made from the bytes as they came.
    const { message, messageLines } = context.events;
    this.acknowledgeLines =
      context.framing === "line" && (message === undefined || messageLines !== undefined)
        ? this.acknowledgeBytes
        : undefined;
    this.freesReads = readsCanBeFreed(context.events);
  }

  /** Bytes from the client: every complete message is acknowledged before this returns. */
  receive(chunk: Buffer): void {
    this.take(chunk);
    // What a connection keeps of a read it copies (the deframer's unfinished line, the outbox's
    // unsent acks), but for lines held for a client behind on its acks: else the read can go now.
    if (this.freesReads && this.heldLines === undefined) releaseRead(chunk);
  }

  private take(chunk: Buffer): void {
    this.context.stats.receivedBytes += chunk.length;
    // After a goodbye, input is read and dropped: leaving it unread would make our close an RST,
    // which can destroy the goodbye and the last acknowledgements before the peer reads them.
    if (this.state !== "open") return;
    this.inputSeen = true;
    // Reading is paused while lines are held; should a read come anyway, they keep their place.
    if (this.heldLines !== undefined) this.releaseHeldLines(true);
    this.replies = "";
    const withinLimit = this.deframer.push(chunk, this.acknowledge, this.acknowledgeLines);
    if (this.replies !== "") this.outbox.send(this.replies);
    if (!withinLimit) {
      const limit = this.context.limits.maxMessageBytes;
      this.reportLimit("message-bytes", `message longer than ${limit} bytes`);
      this.close(notices.messageTooLong(limit));
      return;
    }
    this.applyBackpressure();
  }

  /** The replies of the read being handled, sent together by receive(). */
  private replies = "";
  /** Reports and replies to one message. */
  private readonly acknowledge = (text: string): void => {
    this.context.events.message?.(this.peer, text);
    this.reply(text);
  };
  /** Replies to one message already reported. */
  private readonly reply = (text: string): void => {
    this.context.stats.messagesReceived++;
    this.replies += frameMessage(this.context.framing, ackFor(text));
  };

  private readonly acknowledgeLines: LinesHandler | undefined;
  /** Replies to a read's complete lines at once, from their bytes where they are valid UTF-8. */
  private readonly acknowledgeBytes = (lines: Buffer): void => {
    if (!LineAckBuilder.takes(lines)) {
      splitLines(decodeLines(lines), this.acknowledge);
      return;
    }
    // The ack of a line begun in an earlier read goes first.
    if (this.replies !== "") this.outbox.send(this.replies);
    this.replies = "";
    // Reported as they are read, as the string way does: acks may wait (heldLines), and a
    // connection that dies meanwhile still had these messages.
    this.context.events.messageLines?.(this.peer, lines);
    this.acknowledgeFrom(lines, 0, true);
  };

  /**
   * Complete lines of a read that wait for their acks: the client stopped reading them mid-read.
   * They are acknowledged, before anything read after them, once it catches up (or at the goodbye).
   */
  private heldLines: Buffer | undefined;

  /**
   * Acknowledges `lines` (ones LineAckBuilder takes) from `from` on, a buffer of acks at a time.
   * With `untilBehind`, it stops at the first buffer that finds more than --max-output-bytes
   * waiting and keeps the rest in heldLines: one read of tiny messages can owe 30 times its size in
   * acks, and the output limit holds for those too.
   */
  private acknowledgeFrom(lines: Buffer, from: number, untilBehind: boolean): void {
    while (from < lines.length) {
      if (untilBehind && this.outbox.queuedBytes > this.context.limits.maxOutputBytes) {
        this.heldLines = lines.subarray(from);
        return;
      }
      const acksLength = lineAcks.build(lines, from);
      if (lineAcks.count === 0) {
        // One line whose ack is larger than the builder's buffer: that one goes as a string.
        const lf = lines.indexOf(0x0a, from);
        this.replies = "";
        splitLines(lines.toString("utf8", from, lf), this.reply);
        this.outbox.send(this.replies);
        this.replies = "";
        from = lf + 1;
        continue;
      }
      this.context.stats.messagesReceived += lineAcks.count;
      this.outbox.send(lineAcks.bytes, acksLength);
      from = lineAcks.next;
    }
  }

  /** Acknowledges the held lines: as far as the client keeps up, or (`all`) every one of them. */
  private releaseHeldLines(all: boolean): void {
    const held = this.heldLines;
    if (held === undefined) return;
    this.heldLines = undefined;
    this.acknowledgeFrom(held, 0, !all);
  }

  /** The socket can take more: send what waits, resume reading, finish a goodbye. */
  drained(): void {
    const queuedBefore = this.outbox.queuedBytes;
    const empty = this.outbox.flush();
    const progressed = this.outbox.queuedBytes < queuedBefore;
    // A client that reads its replies is not idle, even while we wait before reading more from it.
    if (progressed && this.state === "open") this.lastActivityAt = performance.now();
    if (this.waitingForPeer && this.outbox.queuedBytes <= this.context.limits.maxOutputBytes / 2) {
      this.waitingForPeer = false;
      if (this.state === "open") {
        this.releaseHeldLines(false);
        this.applyBackpressure();
      }
      this.updateReading();
    }
    if (this.state !== "closing") return;
    if (empty) this.writeGoodbye();
    else if (progressed) this.armCloseTimer();
  }

  /** The client sent FIN: it will send nothing more, but still reads our replies. */
  ended(): void {
    this.peerEnded = true;
    if (this.state === "open") {
      this.releaseHeldLines(true);
      const rest = this.deframer.takeRest();
      if (rest !== undefined) {
        this.replies = "";
        this.acknowledge(rest);
        this.outbox.send(this.replies);
      }
      this.close();
      return;
    }
    if (this.state === "closing" && this.outbox.isEmpty) this.socket.end();
  }

  /**
   * Says goodbye: sends every reply still owed, then the notice (if any), then FIN, and closes once
   * the peer hangs up. A peer that stops reading, or never hangs up, is closed after the close
   * timeout without progress. Safe to call more than once.
   */
  close(notice?: string): void {
    if (this.state !== "open") return;
    // Every message read is acknowledged before the goodbye, held ones too.
    this.releaseHeldLines(true);
    this.state = "closing";
    if (notice !== undefined) this.outbox.send(frameNotice(this.context.framing, notice));
    this.armCloseTimer();
    // Keep reading (and dropping) so the peer's writes cannot wedge the goodbye.
    this.waitingForPeer = false;
    this.held = false;
    this.updateReading();
    if (this.outbox.isEmpty) this.writeGoodbye();
  }

  /** Holds or releases this client's input for the whole server (see RunningServer.holdInputUntil). */
  hold(held: boolean): void {
    if (this.state !== "open") return;
    this.held = held;
    // The time the server did not read is not the client's silence: its idle clock starts again.
    if (!held) this.lastActivityAt = performance.now();
    this.updateReading();
  }

  /**
   * How long the client has been silent at `now`, the idle sweep's time (registry.ts): input that
   * came since the last call counts as at `now`.
   */
  silentFor(now: number): number {
    if (this.inputSeen) {
      this.inputSeen = false;
      this.lastActivityAt = now;
    }
    return now - this.lastActivityAt;
  }

  /** Whether the server holds this client's input now (its stdout is behind). */
  get isHeld(): boolean {
    return this.held;
  }

  private updateReading(): void {
    const pause = this.waitingForPeer || this.held;
    if (pause === this.socketPaused) return;
    this.socketPaused = pause;
    if (pause) this.socket.pause();
    else this.socket.resume();
  }

  /** Closes at once; replies still in the outbox are dropped (second Ctrl+C, drain timeout). */
  abort(): void {
    if (this.state === "closed") return;
    this.socket.end();
  }

  /** The socket is closed (by either side): release timers. */
  released(): void {
    this.state = "closed";
    clearTimeout(this.closeTimer);
    // Lines held for their acks when the connection died (a reset, a second Ctrl+C) were still
    // received: they count, unacknowledged.
    if (this.heldLines !== undefined) this.context.stats.messagesReceived += countLineBreaks(this.heldLines);
    this.heldLines = undefined;
  }

  /** Logs and counts a limit once per connection. */
  reportLimit(kind: LimitKind, detail: string): void {
    if (this.limitsReported.has(kind)) return;
    this.limitsReported.add(kind);
    this.context.stats.limitHits[kind]++;
    this.context.events.limitHit?.(this.peer, kind, detail);
  }

  private applyBackpressure(): void {
    const limit = this.context.limits.maxOutputBytes;
    if (this.waitingForPeer || this.outbox.queuedBytes <= limit) return;
    // The client sends but does not read its acks: stop reading from it until it catches up,
    // so its replies cannot grow without bound. Other clients are not affected.
    this.waitingForPeer = true;
    this.updateReading();
    this.reportLimit("output", `client is not reading its replies; paused after ${limit} bytes`);
  }

  /** Everything owed is written: send FIN and wait (one more close timeout) for the peer to hang up. */
  private writeGoodbye(): void {
    if (this.goodbyeWritten) return;
    this.goodbyeWritten = true;
    if (this.peerEnded) return this.socket.end();
    this.armCloseTimer();
    this.socket.shutdown();
  }

  private armCloseTimer(): void {
    clearTimeout(this.closeTimer);
    this.closeTimer = setTimeout(this.closeTimedOut, this.context.closeTimeoutMs);
  }

  /** No progress for the close timeout: the peer stopped reading, or never hangs up. */
  private readonly closeTimedOut = (): void => {
    const undelivered = this.outbox.queuedBytes;
    if (undelivered > 0) {
      this.context.stats.undeliveredReplyBytes += undelivered;
      this.context.events.repliesUndelivered?.(this.peer, undelivered);
    }
    this.socket.end();
  };
}
