// A live progress line for long pipelines, as pv draws one: messages sent and acknowledged, the
// rate of acks over the last second, and the time since the start. It is redrawn in place (CR,
// the text, erase to the end of the line) at most ten times a second, erased before any other
// line is written to the same stream (so a status line never lands in the middle of it), and
// erased at the end. The program shows it only where a person watches: stderr on a terminal.
// When stdout is that terminal too, the acks go through the same writer (`around`): each write of
// them erases the line first, and the next redraw draws it again below them, the last line.

import type { LineSink } from "../output/sink.ts";

export interface ProgressCounts {
  readonly sent: number;
  readonly acknowledged: number;
}

/** `[PROGRESS] 0:07  120,000 sent  119,500 acknowledged  48,210/s` */
export function formatProgress(counts: ProgressCounts, elapsedMs: number, acksPerSecond: number): string {
  const count = (n: number) => Math.round(n).toLocaleString("en-US");
  return `[PROGRESS] ${formatElapsed(elapsedMs)}  ${count(counts.sent)} sent  ${count(counts.acknowledged)} acknowledged  ${count(acksPerSecond)}/s`;
}

/** 7300 -> "0:07"; 3725000 -> "1:02:05". */
export function formatElapsed(ms: number): string {
  const total = Math.floor(ms / 1000);
  const [hours, minutes, seconds] = [Math.floor(total / 3600), Math.floor(total / 60) % 60, total % 60];
  const two = (n: number) => String(n).padStart(2, "0");
  return hours > 0 ? `${hours}:${two(minutes)}:${two(seconds)}` : `${minutes}:${two(seconds)}`;
}

/** Ten redraws a second: live to the eye, and nothing a terminal notices in cost. */
export const REDRAW_INTERVAL_MS = 100;
/** The rate is taken over this many of the last redraws (one second). */
const RATE_WINDOW = 10;
const ERASE_LINE = "\r\x1b[K";

export class ProgressLine {
  private timer: Timer | undefined;
  private drawn = false;
  private startedAt = 0;
  private counts: ProgressCounts = { sent: 0, acknowledged: 0 };
  private samples: Array<{ at: number; acknowledged: number }> = [];

  /**
   * `write` puts text on the stream the line is drawn on; `columns` tells its width now, asked at
   * each redraw, as a person may resize the window mid-run (the line is cut to one less, as a line
   * that fills the last column would wrap, and CR only returns to the start of the last row).
   */
  constructor(
    private readonly write: (text: string) => void,
    private readonly columns: () => number,
  ) {}

  /** Starts redrawing `counts` (read at each redraw); the first drawing is one interval away. */
  start(counts: ProgressCounts): void {
    this.counts = counts;
    this.startedAt = performance.now();
    this.samples = [{ at: this.startedAt, acknowledged: counts.acknowledged }];
    this.timer = setInterval(() => this.redraw(), REDRAW_INTERVAL_MS);
    // Never the reason the process stays up.
    this.timer.unref();
  }

  /** Writes a line of its own on the same stream, in place of the progress line (redrawn next time). */
  print(line: string): void {
    this.erase();
    this.write(line);
  }

  /**
   * `sink` (the one the line is drawn through) for other text on the line's terminal, the acks:
   * each write erases the line first, so no ack lands in the middle of it. One check a write.
   */
  around(sink: LineSink): LineSink {
    return {
      write: (text) => {
        this.erase();
        sink.write(text);
      },
      writeBytes: (lines) => {
        this.erase();
        sink.writeBytes(lines);
      },
      writeBytesWith: (size, fill) => {
        this.erase();
        sink.writeBytesWith(size, fill);
      },
      flush: () => sink.flush(),
      get backlog() {
        return sink.backlog;
      },
    };
  }

  /** Erases the line for good. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.erase();
  }

  private redraw(): void {
    const now = performance.now();
    this.samples.push({ at: now, acknowledged: this.counts.acknowledged });
    if (this.samples.length > RATE_WINDOW + 1) this.samples.shift();
    const oldest = this.samples[0]!;
    const rate = now > oldest.at ? ((this.counts.acknowledged - oldest.acknowledged) * 1000) / (now - oldest.at) : 0;
    const text = formatProgress(this.counts, now - this.startedAt, rate);
    this.write(`\r${text.slice(0, Math.max(0, this.columns() - 1))}\x1b[K`);
    this.drawn = true;
  }

  private erase(): void {
    if (!this.drawn) return;
    this.write(ERASE_LINE);
    this.drawn = false;
  }
}
