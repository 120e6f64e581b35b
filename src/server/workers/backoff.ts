// How long a supervisor waits before restarting a worker that died: at once would let a worker
// that crashes on start spin the CPU, so the wait doubles with each quick death, up to a cap, and
// starts over once a worker has lived long enough to count as healthy.

export const FIRST_RESTART_DELAY_MS = 100;
export const MAX_RESTART_DELAY_MS = 5000;
/** A worker that lived this long died of something new: its restart is quick again. */
export const HEALTHY_AFTER_MS = 10_000;

export class RestartBackoff {
  private delayMs = 0;

  /** The wait before the next start, for a worker that lived `livedMs`. */
  next(livedMs: number): number {
    this.delayMs =
      livedMs >= HEALTHY_AFTER_MS || this.delayMs === 0
        ? FIRST_RESTART_DELAY_MS
        : Math.min(MAX_RESTART_DELAY_MS, this.delayMs * 2);
    return this.delayMs;
  }
}
