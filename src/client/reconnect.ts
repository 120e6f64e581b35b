// --reconnect's schedule: how long to wait before each new attempt, and when to stop. The waits
// double from 100 ms to 2 s, each a random amount between half and all of that, so that clients
// cut off together (a server restart) do not all come back in the same instant. A connection that
// gets an acknowledgement starts the doubling over. --reconnect-for bounds the time spent without
// a connection over the whole run, not per outage: a server that keeps going away uses it up.

export interface ReconnectOptions {
  /** Total time the run may spend reconnecting; 0: no limit. */
  reconnectForMs: number;
  /** Most bytes of unacknowledged messages kept for sending again; input waits while it is full. */
  resendBufferBytes: number;
}

export const FIRST_DELAY_MS = 100;
export const MAX_DELAY_MS = 2000;

export class RetryPlan {
  /** Time spent reconnecting in outages that are over. */
  private spentMs = 0;
  private outageStartedAt: number | undefined;
  private backoffMs = FIRST_DELAY_MS;

  constructor(
    private readonly budgetMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  /**
   * The wait before the next attempt, in ms, or undefined when the time for reconnecting is used
   * up. The last wait is cut to what is left, so the last attempt starts when the time runs out.
   */
  nextDelay(now = performance.now()): number | undefined {
    this.outageStartedAt ??= now;
    const remaining = this.budgetMs === 0 ? Infinity : this.budgetMs - this.spentMs - (now - this.outageStartedAt);
    if (remaining <= 0) return undefined;
    const backoff = this.backoffMs;
    this.backoffMs = Math.min(backoff * 2, MAX_DELAY_MS);
    return Math.min(Math.round(backoff / 2 + (this.random() * backoff) / 2), Math.ceil(remaining));
  }

  /** Connected again: the outage is over. */
  connected(now = performance.now()): void {
    if (this.outageStartedAt === undefined) return;
    this.spentMs += now - this.outageStartedAt;
    this.outageStartedAt = undefined;
  }

  /** The connection works (a message was acknowledged): the next outage starts with a short wait. */
  progressed(): void {
    this.backoffMs = FIRST_DELAY_MS;
  }
}
