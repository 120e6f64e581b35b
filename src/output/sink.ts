// Buffered output for hot paths (one line per message): a consola call costs ~20 us, and even a
// native write call per line dominates a profile at a million lines. Lines are joined in a string
// (cheap: the engine keeps it as a rope until it is written) and handed to the file writer at the
// end of the current event-loop turn, or sooner when a batch is large, in one call. The sink can
// be flushed and awaited before the process exits.
//
// When the reader goes away (`client | head -1`), writes fail with EPIPE. The sink then drops
// everything after and tells its owner once, as a Unix tool would get SIGPIPE.
import type { FileSink } from "bun";

export interface LineSink {
  write(text: string): void;
  /** Lines that are already UTF-8 bytes (each with its LF), after everything written before. */
  writeBytes(lines: Uint8Array): void;
  /** Writes out everything buffered; resolves when the OS has it (or the reader is gone). */
  flush(): Promise<void>;
}

/** Characters joined before they are handed to the writer mid-turn. */
const BATCH_CHARS = 64 * 1024;

export function createLineSink(target: "stdout" | "stderr" = "stdout", onReaderGone?: () => void): LineSink {
  const file = target === "stdout" ? Bun.stdout : Bun.stderr;
  const writer: FileSink = file.writer({ highWaterMark: 64 * 1024 });
  let batch = "";
  let scheduled = false;
  let readerGone = false;

  const fail = (error: unknown): void => {
    if ((error as NodeJS.ErrnoException)?.code !== "EPIPE") throw error;
    if (readerGone) return;
    readerGone = true;
    batch = "";
    onReaderGone?.();
  };
  const handOver = (data: string | Uint8Array) => {
    try {
      // FileSink reports a failed write either by throwing or through a returned promise.
      const written: unknown = writer.write(data);
      if (typeof (written as Promise<number> | undefined)?.then === "function") {
        (written as Promise<number>).then(undefined, fail);
      }
    } catch (error) {
      fail(error);
    }
  };
  const handOverBatch = () => {
    const text = batch;
    batch = "";
    handOver(text);
  };
  const flushNow = async (untilEmpty: boolean) => {
    if (readerGone) return;
    if (batch !== "") handOverBatch();
    try {
      let flushed = writer.flush();
      await flushed;
      // Under load a flush's promise can resolve while later writes still wait in the writer, and
      // exiting then cut the output short. Before exit, flush until the writer says it is empty.
      while (untilEmpty && (flushed = writer.flush()) !== 0) await flushed;
    } catch (error) {
      fail(error);
    }
  };
  const flushSoon = () => {
    scheduled = false;
    void flushNow(false);
  };
  const flushLater = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(flushSoon);
  };
  return {
    write(text) {
      if (readerGone) return;
      batch += text;
      if (batch.length >= BATCH_CHARS) handOverBatch();
      flushLater();
    },
    writeBytes(lines) {
      if (readerGone) return;
      // In order: text written before goes first. The bytes go as they are, with no string made.
      if (batch !== "") handOverBatch();
      handOver(lines);
      flushLater();
    },
    flush: () => flushNow(true),
  };
}
