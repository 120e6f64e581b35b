// Buffered output for hot paths (one line per message): a consola call costs ~20 us, a buffered
// write well under 1 us (BUN_NOTES.md). Lines are joined and written in one go at the end of the
// current event-loop turn, and the sink can be flushed and awaited before the process exits.
import type { FileSink } from "bun";

export interface LineSink {
  write(text: string): void;
  /** Writes out everything buffered; resolves when the OS has it. */
  flush(): Promise<void>;
}

export function createLineSink(target: "stdout" | "stderr" = "stdout"): LineSink {
  const file = target === "stdout" ? Bun.stdout : Bun.stderr;
  const writer: FileSink = file.writer({ highWaterMark: 64 * 1024 });
  let scheduled = false;
  const flushSoon = () => {
    scheduled = false;
    void writer.flush();
  };
  return {
    write(text) {
      writer.write(text);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flushSoon);
      }
    },
    async flush() {
      await writer.flush();
    },
  };
}
