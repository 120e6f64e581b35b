// A client session, shared by the interactive and pipeline modes: counts messages sent and
// acknowledged, matches replies to messages in order, watches for a silent server, and turns
// every way the server can fail us into one Outcome. With --reconnect (pipelines) a session
// outlives its connections: it keeps every unacknowledged message, and when a connection fails
// in a way that may pass it opens a new one (reconnect.ts has the schedule) and sends them again.
// Acks are counted per connection against the messages sent on it: a new connection is sent
// exactly the unacknowledged ones, oldest first, so its n-th ack is theirs, and an ack is never
// counted twice (a message whose ack was lost in flight is sent, and acknowledged, again).
import { ConnectError, type ConnectTarget } from "../net/connect.ts";
import { decodeLines, splitLines } from "../protocol/framing.ts";
import { countAcksInBulk } from "../protocol/line-scan.ts";
import { classifyReply, type Framing } from "../protocol/messages.ts";
import { ServerLink } from "./link.ts";
import {
  connectFailureOutcome,
  linkEndOutcome,
  noticeOutcome,
  type Outcome,
  responseTimeoutOutcome,
  type Tally,
  unexpectedReplyOutcome,
  withLossCount,
} from "./outcome.ts";
import { type ReconnectOptions, RetryPlan } from "./reconnect.ts";
import { Unacknowledged } from "./unacknowledged.ts";

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
/** A status line ([RECONNECTING], [CONNECTED]) and its fields for --json. */
export type Say = (text: string, fields?: Record<string, unknown>) => void;

export interface SessionListeners {
  onAck: AckListener;
  onAckLines?: AckLinesListener;
  /** Given: ride out lost connections (--reconnect), telling `say` about each. */
  reconnect?: ReconnectOptions & { say: Say };
}

/** Unsent bytes after which the sender is asked to wait (whenRoom) until the socket drains. */
const OUTBOX_HIGH_WATER_BYTES = 1024 * 1024;

export class Session {
  readonly tally: Tally = { sent: 0, acknowledged: 0 };
  /** Resolves when the session fails for good; never resolves for a session that ends well. */
  readonly failure: Promise<Outcome>;
  private fail!: (outcome: Outcome) => void;
  private failed = false;
  /** Closed by us: whatever is under way stops. */
  private closed = false;
  /** The connection; none while reconnecting, or after one was lost with nothing owed. */
  private link: ServerLink | undefined;
  private lastProgressAt = 0;
  private responseTimer: Timer | undefined;
  private allAckedWaiters: Array<() => void> = [];
  /** Senders waiting for room (whenRoom); woken by acks, a new connection, and the end. */
  private roomWaiters: Array<() => void> = [];
  private holdingReplies = false;
  // With --reconnect only:
  private readonly unacknowledged: Unacknowledged | undefined;
  private readonly plan: RetryPlan | undefined;
  /** A connection of this run has opened: some failures are passing ones only after that (transientOnceConnected). */
  private hasConnected = false;
  private reconnecting = false;
  /** The connection was lost while nothing was owed: reconnect when the next bytes are sent. */
  private idleLoss: Outcome | undefined;
  private retryTimer: Timer | undefined;
  private endRetryWait: (() => void) | undefined;

  constructor(
    private readonly options: SessionOptions,
    private readonly listeners: SessionListeners,
  ) {
    this.failure = new Promise((resolve) => (this.fail = resolve));
    if (listeners.reconnect) {
      this.unacknowledged = new Unacknowledged();
      this.plan = new RetryPlan(listeners.reconnect.reconnectForMs);
    }
  }

  /**
   * Opens the first connection (with --reconnect, trying again as after a lost one). Resolves
   * with the failure if it could not, or with undefined once connected (or closed meanwhile).
   */
  async connect(): Promise<Outcome | undefined> {
    const opened = await this.openWithRetries(undefined);
    if (opened instanceof ServerLink) this.attach(opened);
    else return opened;
  }

  get owed(): number {
    return this.tally.sent - this.tally.acknowledged;
  }

  get hasFailed(): boolean {
    return this.failed;
  }

  /** Sends bytes that hold `count` complete messages (already framed). */
  /** Bytes given to sendFramed() are kept after it returns (for resending, --reconnect). */
  get keepsSent(): boolean {
    return this.unacknowledged !== undefined;
  }

  sendFramed(bytes: string | Uint8Array, count: number): void {
    if (this.failed) return;
    if (this.owed === 0) this.lastProgressAt = performance.now();
    this.tally.sent += count;
    if (this.options.framing === "line" && bytes.length > 0) this.tally.cutLine = !endsWithLineBreak(bytes);
    this.unacknowledged?.add(
      typeof bytes === "string" ? Buffer.from(bytes) : bytes,
      count,
      this.options.framing === "raw",
    );
    if (this.link) {
      this.link.send(bytes);
      this.armResponseTimer();
    } else if (this.idleLoss && !this.reconnecting) void this.reconnect(this.idleLoss);
  }

  /**
   * The sender should wait (whenRoom) before sending more: the socket is behind, the session is
   * reconnecting, or the unacknowledged messages kept for resending fill --resend-buffer. (Only
   * complete messages count as filling it: the one being read must go on, or it never ends.)
   */
  get mustWait(): boolean {
    if (this.failed || this.closed) return false;
    if (this.reconnecting || (this.link?.queuedBytes ?? 0) > OUTBOX_HIGH_WATER_BYTES) return true;
    const kept = this.unacknowledged;
    return kept !== undefined && kept.messages > 0 && kept.bytes > this.listeners.reconnect!.resendBufferBytes;
  }

  /** Resolves once mustWait is false. */
  async whenRoom(): Promise<void> {
    while (this.mustWait) {
      if (this.link && !this.reconnecting && this.link.queuedBytes > OUTBOX_HIGH_WATER_BYTES)
        await this.link.whenDrained();
      else await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
    }
  }

  /**
   * Stops taking replies until `until` settles: our own output is behind (a slow stdout), and the
   * replies must wait in the kernel rather than in memory. The server is not silent meanwhile, so
   * the response timeout restarts afterwards.
   */
  holdRepliesUntil(until: Promise<unknown>): void {
    if (this.holdingReplies) return;
    this.holdingReplies = true;
    this.link?.pauseReading();
    const resume = () => {
      this.holdingReplies = false;
      this.lastProgressAt = performance.now();
      this.link?.resumeReading();
    };
    // Settled either way: a wait that fails must not stop the replies for ever.
    until.then(resume, resume);
  }

  /** Resolves once every message sent so far is acknowledged (or the session failed). */
  whenAllAcknowledged(): Promise<void> {
    if (this.owed === 0 || this.failed || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.allAckedWaiters.push(resolve));
  }

  /** Ends the session by our choice, a reconnection under way included. */
  close(): void {
    this.closed = true;
    clearTimeout(this.responseTimer);
    clearTimeout(this.retryTimer);
    this.endRetryWait?.();
    this.link?.close();
    this.wakeAllAckedWaiters();
    this.wakeRoomWaiters();
  }

  private openLink(): Promise<ServerLink> {
    return ServerLink.open(this.options, {
      reply: (text) => this.replied(text),
      replies: this.listeners.onAckLines && ((lines) => this.repliedLines(lines)),
      ended: (how) => {
        const outcome = linkEndOutcome(how, this.tally);
        // With nothing owed the run may be over: a server that sends its last ack (even without
        // its LF) and closes ends the connection in the same turn, before the run has closed the
        // session. A turn later, a run that is over has; one that goes on hears of the end then.
        if (this.owed === 0) setImmediate(() => this.connectionFailed(outcome));
        else this.connectionFailed(outcome);
      },
    });
  }

  /**
   * Connects, after `cause` (the failure that lost the last connection) if there is one; with
   * --reconnect, tries again while failures may pass and time is left. Returns the new connection,
   * the failure that ends the run, or undefined when the session was closed meanwhile.
   */
  private async openWithRetries(cause: Outcome | undefined): Promise<ServerLink | Outcome | undefined> {
    let last = cause;
    while (true) {
      if (last) {
        const delay = this.mayRetry(last) ? this.plan!.nextDelay() : undefined;
        if (delay === undefined) return last;
        this.listeners.reconnect!.say(
          `[RECONNECTING] ${last.reason}; retrying in ${delay} ms (${this.owed} unacknowledged)`,
          { reason: last.reason, retry_in_ms: delay, unacknowledged: this.owed },
        );
        await new Promise<void>((resolve) => {
          this.endRetryWait = resolve;
          this.retryTimer = setTimeout(resolve, delay);
        });
      }
      if (this.closed) return undefined;
      try {
        const link = await this.openLink();
        if (this.closed) return void link.close();
        this.plan?.connected();
        this.hasConnected = true;
        return link;
      } catch (error) {
        last = connectFailureOutcome(
          error instanceof ConnectError ? error.failure : { kind: "error", error: error as Error },
        );
      }
    }
  }

  /** Over a new connection, after a lost one: everything unacknowledged goes again, in order. */
  private async reconnect(cause: Outcome): Promise<void> {
    this.reconnecting = true;
    this.idleLoss = undefined;
    const opened = await this.openWithRetries(cause);
    this.reconnecting = false;
    if (opened === undefined) return;
    if (!(opened instanceof ServerLink)) return this.failWith(withLossCount(opened, this.tally));
    this.listeners.reconnect!.say("[CONNECTED] Connected to server");
    this.attach(opened);
  }

  private attach(link: ServerLink): void {
    this.link = link;
    if (this.holdingReplies) link.pauseReading();
    if (this.unacknowledged) for (const bytes of this.unacknowledged.toSend()) link.send(bytes);
    if (this.owed > 0) {
      this.lastProgressAt = performance.now();
      this.armResponseTimer();
    }
    this.wakeRoomWaiters();
  }

  private replied(text: string): void {
    if (this.failed) return;
    const reply = classifyReply(text);
    if (reply.kind === "notice") return this.connectionFailed(noticeOutcome(reply.text, this.tally));
    // Raw framing has no line ending to cut replies on: whatever a read holds is the ack.
    const isAck = reply.kind === "ack" || this.options.framing === "raw";
    if (!isAck || this.owed === 0) return this.connectionFailed(unexpectedReplyOutcome(text, this.tally));
    this.listeners.onAck(text, this.tally.acknowledged);
    this.acknowledged(1);
  }

  /** Several reply lines of one read: taken whole when all are acks we are owed (the usual case). */
  private repliedLines(lines: Buffer): void {
    if (this.failed) return;
    const count = countAcksInBulk(lines);
    if (count < 0 || count > this.owed) return splitLines(decodeLines(lines), (text) => this.replied(text));
    this.listeners.onAckLines!(lines, count);
    this.acknowledged(count);
  }

  private acknowledged(count: number): void {
    this.lastProgressAt = performance.now();
    this.tally.acknowledged += count;
    if (this.unacknowledged) {
      this.unacknowledged.acknowledge(count);
      this.plan!.progressed();
      if (this.roomWaiters.length > 0 && !this.mustWait) this.wakeRoomWaiters();
    }
    if (this.owed === 0) {
      clearTimeout(this.responseTimer);
      this.responseTimer = undefined;
      this.wakeAllAckedWaiters();
    }
  }

  /** Whether --reconnect tries again after this failure. */
  private mayRetry(outcome: Outcome): boolean {
    return (
      this.plan !== undefined &&
      (outcome.transient === true || (outcome.transientOnceConnected === true && this.hasConnected))
    );
  }

  /** The connection failed: the run ends, unless --reconnect may go on over a new one. */
  private connectionFailed(outcome: Outcome): void {
    if (this.failed || this.closed) return;
    if (!this.mayRetry(outcome)) return this.failWith(outcome);
    clearTimeout(this.responseTimer);
    this.responseTimer = undefined;
    this.link?.close();
    this.link = undefined;
    if (this.owed > 0) void this.reconnect(outcome);
    else this.idleLoss = outcome;
  }

  private failWith(outcome: Outcome): void {
    if (this.failed) return;
    this.failed = true;
    clearTimeout(this.responseTimer);
    this.link?.close();
    this.fail(outcome);
    this.wakeAllAckedWaiters();
    this.wakeRoomWaiters();
  }

  /** One timer, re-armed lazily: replies only stamp a time, so the hot path sets no timers. */
  private armResponseTimer(): void {
    const timeoutMs = this.options.responseTimeoutMs;
    if (timeoutMs <= 0 || this.responseTimer !== undefined) return;
    const check = () => {
      this.responseTimer = undefined;
      if (this.failed || this.closed || !this.link || this.owed === 0) return;
      const silentFor = this.holdingReplies ? 0 : performance.now() - this.lastProgressAt;
      if (silentFor >= timeoutMs) return this.connectionFailed(responseTimeoutOutcome(timeoutMs, this.tally));
      this.responseTimer = setTimeout(check, timeoutMs - silentFor);
    };
    this.responseTimer = setTimeout(check, timeoutMs);
  }

  private wakeAllAckedWaiters(): void {
    const waiters = this.allAckedWaiters;
    this.allAckedWaiters = [];
    for (const wake of waiters) wake();
  }

  private wakeRoomWaiters(): void {
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const wake of waiters) wake();
  }
}

function endsWithLineBreak(bytes: string | Uint8Array): boolean {
  return typeof bytes === "string" ? bytes.endsWith("\n") : bytes[bytes.length - 1] === 0x0a;
}
