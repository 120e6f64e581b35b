// A client session, shared by the interactive and pipeline modes: counts messages sent and
// acknowledged, matches replies to messages in order, watches for a silent server, and turns
// every way the server can fail us into one Outcome.

import type { ConnectTarget } from "../net/connect.ts";
import { decodeLines, splitLines } from "../protocol/framing.ts";
import { classifyReply, countAcks, type Framing } from "../protocol/messages.ts";
import { type LinkEnd, ServerLink } from "./link.ts";
import {
  linkEndOutcome,
  noticeOutcome,
  type Outcome,
  responseTimeoutOutcome,
  type Tally,
  unexpectedReplyOutcome,
} from "./outcome.ts";

export interface SessionOptions extends ConnectTarget {
  framing: Framing;
  connectTimeoutMs: number;
  /** Fail when acks are owed and nothing arrives for this long; 0 = wait forever. */
  responseTimeoutMs: number;
}

/** Called for each acknowledgement, in order; `index` counts from 0. */
export type AckListener = (text: string, index: number) => void;
/**
 * Optional, for readers that only pass acks on (pipeline output): the acks of one read at once,
 * `count` lines as the server sent them (UTF-8, each with its LF), instead of one AckListener call each.
 */
export type AckLinesListener = (lines: Buffer, count: number) => void;

export class Session {
  readonly tally: Tally = { sent: 0, acknowledged: 0 };
  /** Resolves when the session fails; never resolves for a session that ends well. */
  readonly failure: Promise<Outcome>;
  private fail!: (outcome: Outcome) => void;
  private failed = false;
  private link!: ServerLink;
  private lastProgressAt = 0;
  private responseTimer: Timer | undefined;
  private allAckedWaiters: Array<() => void> = [];

  private constructor(
    private readonly options: SessionOptions,
    private readonly onAck: AckListener,
    private readonly onAckLines: AckLinesListener | undefined,
  ) {
    this.failure = new Promise((resolve) => (this.fail = resolve));
  }

  /** Connects; throws ConnectError when the server cannot be reached. */
  static async open(options: SessionOptions, onAck: AckListener, onAckLines?: AckLinesListener): Promise<Session> {
    const session = new Session(options, onAck, onAckLines);
    session.link = await ServerLink.open(options, {
      reply: (text) => session.replied(text),
      replies: onAckLines && ((lines) => session.repliedLines(lines)),
      ended: (how) => session.ended(how),
    });
    return session;
  }

  get owed(): number {
    return this.tally.sent - this.tally.acknowledged;
  }

  get hasFailed(): boolean {
    return this.failed;
  }

  /** Sends bytes that hold `count` complete messages (already framed). */
  sendFramed(bytes: string | Uint8Array, count: number): void {
    if (this.failed) return;
    if (this.owed === 0) this.lastProgressAt = performance.now();
    this.tally.sent += count;
    this.link.send(bytes);
    this.armResponseTimer();
  }

  /** Bytes waiting in our outbox, for backpressure on the input side. */
  get queuedBytes(): number {
    return this.link.queuedBytes;
  }

  whenDrained(): Promise<void> {
    return this.link.whenDrained();
  }

  /**
   * Stops taking replies until `until` settles: our own output is behind (a slow stdout), and the
   * replies must wait in the kernel rather than in memory. The server is not silent meanwhile, so
   * the response timeout restarts afterwards.
   */
  holdRepliesUntil(until: Promise<unknown>): void {
    if (this.holdingReplies) return;
    this.holdingReplies = true;
    this.link.pauseReading();
    void until.then(() => {
      this.holdingReplies = false;
      this.lastProgressAt = performance.now();
      this.link.resumeReading();
    });
  }
  private holdingReplies = false;

  /** Resolves once every message sent so far is acknowledged (or the session failed). */
  whenAllAcknowledged(): Promise<void> {
    if (this.owed === 0 || this.failed) return Promise.resolve();
    return new Promise((resolve) => this.allAckedWaiters.push(resolve));
  }

  /** Ends the session by our choice. */
  close(): void {
    clearTimeout(this.responseTimer);
    this.link.close();
    this.wakeAllAckedWaiters();
  }

  private replied(text: string): void {
    if (this.failed) return;
    const reply = classifyReply(text);
    if (reply.kind === "notice") return this.failWith(noticeOutcome(reply.text, this.tally));
    // Raw framing has no line ending to cut replies on: whatever a read holds is the ack.
    const isAck = reply.kind === "ack" || this.options.framing === "raw";
    if (!isAck || this.owed === 0) return this.failWith(unexpectedReplyOutcome(text, this.tally));
    this.lastProgressAt = performance.now();
    this.onAck(text, this.tally.acknowledged);
    this.tally.acknowledged++;
    if (this.owed === 0) this.allAcknowledged();
  }

  /** Several reply lines of one read: taken whole when all are acks we are owed (the usual case). */
  private repliedLines(lines: Buffer): void {
    if (this.failed) return;
    const count = countAcks(lines);
    if (count < 0 || count > this.owed) return splitLines(decodeLines(lines), (text) => this.replied(text));
    this.lastProgressAt = performance.now();
    this.onAckLines!(lines, count);
    this.tally.acknowledged += count;
    if (this.owed === 0) this.allAcknowledged();
  }

  private allAcknowledged(): void {
    clearTimeout(this.responseTimer);
    this.responseTimer = undefined;
    this.wakeAllAckedWaiters();
  }

  private ended(how: LinkEnd): void {
    this.failWith(linkEndOutcome(how, this.tally));
  }

  private failWith(outcome: Outcome): void {
    if (this.failed) return;
    this.failed = true;
    clearTimeout(this.responseTimer);
    this.link.close();
    this.fail(outcome);
    this.wakeAllAckedWaiters();
  }

  /** One timer, re-armed lazily: replies only stamp a time, so the hot path sets no timers. */
  private armResponseTimer(): void {
    const timeoutMs = this.options.responseTimeoutMs;
    if (timeoutMs <= 0 || this.responseTimer !== undefined) return;
    const check = () => {
      this.responseTimer = undefined;
      if (this.failed || this.owed === 0) return;
      const silentFor = this.holdingReplies ? 0 : performance.now() - this.lastProgressAt;
      if (silentFor >= timeoutMs) return this.failWith(responseTimeoutOutcome(timeoutMs, this.tally));
      this.responseTimer = setTimeout(check, timeoutMs - silentFor);
    };
    this.responseTimer = setTimeout(check, timeoutMs);
  }

  private wakeAllAckedWaiters(): void {
    const waiters = this.allAckedWaiters;
    this.allAckedWaiters = [];
    for (const wake of waiters) wake();
  }
}
