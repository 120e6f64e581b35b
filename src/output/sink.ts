// Buffered output for hot paths (one line per message): a consola call costs ~20 us, and even a
// native write call per line dominates a profile at a million lines. Lines are joined in a string
// (cheap: the engine keeps it as a rope until it is written) and handed to the file writer at the
// end of the current event-loop turn, or sooner when a batch is large, in one call. The sink can
// be flushed and awaited before the process exits.
import type { FileSink } from "bun";

export interface LineSink {
  write(text: string): void;
  /** Writes out everything buffered; resolves when the OS has it. */
  flush(): Promise<void>;
}

/** Characters joined before they are handed to the writer mid-turn. */
const BATCH_CHARS = 64 * 1024;

export function createLineSink(target: "stdout" | "stderr" = "stdout"): LineSink {
  const file = target === "stdout" ? Bun.stdout : Bun.stderr;
  const writer: FileSink = file.writer({ highWaterMark: 64 * 1024 });
  let batch = "";
  let scheduled = false;
  const handOver = () => {
    writer.write(batch);
    batch = "";
  };
  const flushSoon = () => {
    scheduled = false;
    if (batch !== "") handOver();
    void writer.flush();
  };
  return {
    write(text) {
      batch += text;
      if (batch.length >= BATCH_CHARS) handOver();
      if (!scheduled) {
        scheduled = true;
        setImmediate(flushSoon);
      }
    },
    async flush() {
      if (batch !== "") handOver();
      await writer.flush();
    },
  };
}
