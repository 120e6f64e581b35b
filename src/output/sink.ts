// Buffered output for hot paths (one line per message): a consola call costs ~20 us, a buffered
// write well under 1 us (BUN_NOTES.md). Lines are joined and written in one go at the end of the
// current event-loop turn, and the sink can be flushed and awaited before the process exits.
//
// When the reader goes away (`client | head -1`), writes fail with EPIPE. The sink then drops
// everything after and tells its owner once, as a Unix tool would get SIGPIPE.
import type { FileSink } from "bun";

export interface LineSink {
  write(text: string): void;
  /** Writes out everything buffered; resolves when the OS has it (or the reader is gone). */
  flush(): Promise<void>;
}

export function createLineSink(target: "stdout" | "stderr" = "stdout", onReaderGone?: () => void): LineSink {
  const file = target === "stdout" ? Bun.stdout : Bun.stderr;
  const writer: FileSink = file.writer({ highWaterMark: 64 * 1024 });
  let scheduled = false;
  let readerGone = false;

  const fail = (error: unknown): void => {
    if ((error as NodeJS.ErrnoException)?.code !== "EPIPE") throw error;
    if (readerGone) return;
    readerGone = true;
    onReaderGone?.();
  };
  const flushNow = async () => {
    if (readerGone) return;
    try {
      await writer.flush();
    } catch (error) {
      fail(error);
    }
  };
  const flushSoon = () => {
    scheduled = false;
    void flushNow();
  };
  return {
    write(text) {
      if (readerGone) return;
      try {
        // FileSink reports a failed write either by throwing or through a returned promise.
        const written: unknown = writer.write(text);
        if (typeof (written as Promise<number> | undefined)?.then === "function") {
          (written as Promise<number>).then(undefined, fail);
        }
      } catch (error) {
        return fail(error);
      }
      if (!scheduled) {
        scheduled = true;
        setImmediate(flushSoon);
      }
    },
    flush: flushNow,
  };
}
