// Buffered output for hot paths (one line per message): a logger call formats and filters, and even a
// native write call per line dominates a profile at a million lines. Lines are joined in a string
// (cheap: the engine keeps it as a rope until it is written) and handed to the file writer at the
// end of the current event-loop turn, or sooner when a batch is large, in one call. The sink can
// be flushed and awaited before the process exits.
//
// A reader that is slow or stuck (`server | sleep 300`) makes output wait in memory: the sink
// tells how much (`backlog`) so its owner can stop producing (the server and the client stop
// reading from their sockets), or it drops lines past a limit (`dropWhenBehind`, for log lines). When writing fails
// (EPIPE when the reader is gone, as in `client | head -1`; ENOSPC; ...), the sink drops
// everything after and tells its owner once.
import type { FileSink } from "bun";

export interface LineSink {
  write(text: string): void;
  /** Lines that are already UTF-8 bytes (each with its LF), after everything written before. */
  writeBytes(lines: Uint8Array): void;
  /**
   * Lines made a byte at a time (the server's per-message lines), after everything written
   * before: `fill` puts exactly `size` bytes into `into` from `at` on. They wait, like text, for
   * the end of the event-loop turn, in a buffer the sink reuses; no string is made.
   */
  writeBytesWith(size: number, fill: (into: Uint8Array, at: number) => void): void;
  /** Writes out everything buffered; resolves when the OS has it (or writing failed). */
  flush(): Promise<void>;
  /** Characters written to the sink (bytes, for writeBytes and writeBytesWith) that the OS has not taken yet. */
  readonly backlog: number;
}

export interface LineSinkOptions {
  /** Writing failed (the error's code says why: EPIPE = the reader is gone); called once. */
  onFailure?: (error: NodeJS.ErrnoException) => void;
  /** Drop lines instead of queueing them once this many characters wait (stderr's log lines). */
  dropWhenBehind?: { limit: number };
}

/**
 * Waits for a sink's flush at most `ms`: on the way out, a reader that takes nothing must not keep
 * the process alive. Resolves true when everything was written.
 */
export async function flushWithin(sink: LineSink, ms: number): Promise<boolean> {
  let timer: Timer | undefined;
  const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const done = await Promise.race([sink.flush().then(() => true), timedOut]);
  clearTimeout(timer);
  return done;
}

/** Characters joined (or bytes, for writeBytesWith) before they are handed to the writer mid-turn. */
const BATCH_CHARS = 64 * 1024;

/**
 * One writer per stream, shared by its sinks, and stdout's for stderr too when they are one file
 * (writeStderrThroughStdout). A writer keeps what the OS did not take, in order; two writers on
 * one pipe read slowly would tear lines: a log line written while a batch of message lines is
 * half-written lands inside one of them.
 */
const writers: Partial<Record<"stdout" | "stderr", FileSink>> = {};
let stderrIsStdout = false;

/**
 * stdout and stderr are one file (`server 2>&1 | tee log`, a journal's socket): stderr's lines go
 * through stdout's writer from now on, after whatever stdout has waiting. Call it before the
 * first line. The caller compares the two files: node:fs, which can, costs a compiled client ~2 ms
 * at start, so this module does not load it.
 */
export function writeStderrThroughStdout(): void {
  stderrIsStdout = true;
}

function writerFor(target: "stdout" | "stderr"): FileSink {
  const stream = stderrIsStdout ? "stdout" : target;
  writers[stream] ??= (stream === "stdout" ? Bun.stdout : Bun.stderr).writer({ highWaterMark: 64 * 1024 });
  return writers[stream];
}

export function createLineSink(target: "stdout" | "stderr", options: LineSinkOptions = {}): LineSink {
  const writer = writerFor(target);
  let batch = "";
  /**
   * Bytes from writeBytesWith waiting in the sink's own buffer (made on first use, reused). Either
   * they or `batch` wait, never both: text written while bytes wait is encoded after them, and
   * waiting text moves into the buffer before bytes are made, so that the order holds with one
   * write a turn however the two take turns.
   */
  let bytes: Buffer | undefined;
  let bytesWaiting = 0;
  /** Characters handed to the writer, ever, and how many of those it is known to have written. */
  let handedOver = 0;
  let written = 0;
  let scheduled = false;
  let failed = false;
  let draining: Promise<void> | undefined;

  const fail = (error: unknown): void => {
    if (failed) return;
    failed = true;
    batch = "";
    bytesWaiting = 0;
    written = handedOver;
    options.onFailure?.(error as NodeJS.ErrnoException);
  };
  const handOver = (data: string | Uint8Array) => {
    handedOver += data.length;
    try {
      // FileSink reports a failed write either by throwing or through a returned promise.
      const result: unknown = writer.write(data);
      if (typeof (result as Promise<number> | undefined)?.then === "function") {
        (result as Promise<number>).then(undefined, fail);
      }
      // A flush that completes at once means the OS took everything: nothing waits. Only a
      // reader that is really behind (a full pipe) leaves a promise, and a backlog, behind.
      if (typeof writer.flush() === "number") written = handedOver;
      else void drain();
    } catch (error) {
      fail(error);
    }
  };
  const handOverBatch = () => {
    const text = batch;
    batch = "";
    handOver(text);
  };
  const handOverBytes = () => {
    // The writer copies what the OS does not take at once (tests/sink.test.ts, a slow reader),
    // so the buffer is free again as soon as this returns.
    const waiting = bytesWaiting;
    bytesWaiting = 0;
    handOver(bytes!.subarray(0, waiting));
  };
  /** Puts `text` after the waiting bytes when it fits beside them; false when it does not. */
  const encodeAfterBytes = (text: string): boolean => {
    const size = Buffer.byteLength(text);
    if (bytesWaiting + size > BATCH_CHARS) return false;
    bytes ??= Buffer.allocUnsafe(BATCH_CHARS);
    bytes.write(text, bytesWaiting);
    bytesWaiting += size;
    return true;
  };
  const backlog = () => handedOver - written + batch.length + bytesWaiting;
  /** Whatever waits, text or bytes (only one of them does). */
  const handOverWaiting = () => {
    if (batch !== "") handOverBatch();
    else if (bytesWaiting > 0) handOverBytes();
  };
  /** Flushes until the writer says it is empty. */
  const flushUntilEmpty = async (): Promise<void> => {
    try {
      // A flush's promise resolves once what was handed over before it is written, while later
      // writes may still wait: flush again until it reports nothing left (exiting earlier cut
      // the output short under load).
      let before = handedOver;
      let flushed = writer.flush();
      while (flushed !== 0) {
        await flushed;
        written = before;
        before = handedOver;
        flushed = writer.flush();
      }
      written = before;
    } catch (error) {
      fail(error);
    }
  };
  /** One flushing loop at a time; callers during it wait for the same loop. */
  const drain = (): Promise<void> => {
    // .finally() always runs later, so `draining` is set before it is cleared, even when the
    // loop finished at once.
    draining ??= flushUntilEmpty().finally(() => (draining = undefined));
    return draining;
  };
  const flushNow = async () => {
    if (failed) return;
    handOverWaiting();
    await drain();
  };
  const flushSoon = () => {
    scheduled = false;
    // handOver() flushes, and starts the draining loop itself if the OS did not take everything.
    if (!failed) handOverWaiting();
  };
  const flushLater = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(flushSoon);
  };
  return {
    write(text) {
      if (failed) return;
      const limit = options.dropWhenBehind?.limit;
      if (limit !== undefined && backlog() > limit) return;
      if (bytesWaiting > 0) {
        if (encodeAfterBytes(text)) return flushLater();
        handOverBytes();
        if (failed) return;
      }
      batch += text;
      if (batch.length >= BATCH_CHARS) handOverBatch();
      flushLater();
    },
    writeBytes(lines) {
      if (failed) return;
      // In order: what was written before goes first. The bytes go as they are, with no string made.
      handOverWaiting();
      handOver(lines);
      flushLater();
    },
    writeBytesWith(size, fill) {
      if (failed) return;
      const limit = options.dropWhenBehind?.limit;
      if (limit !== undefined && backlog() > limit) return;
      // Text written before goes first (into the buffer, when it fits), and so do waiting bytes
      // these would not fit beside.
      if (batch !== "" && encodeAfterBytes(batch)) batch = "";
      if (batch !== "" || bytesWaiting + size > BATCH_CHARS) {
        handOverWaiting();
        if (failed) return;
      }
      if (size > BATCH_CHARS) {
        // Larger than a batch: made in a buffer of its own, so the sink's stays small.
        const own = Buffer.allocUnsafe(size);
        fill(own, 0);
        handOver(own);
      } else {
        bytes ??= Buffer.allocUnsafe(BATCH_CHARS);
        fill(bytes, bytesWaiting);
        bytesWaiting += size;
      }
      flushLater();
    },
    flush: flushNow,
    get backlog() {
      return backlog();
    },
  };
}

/**
 * For --help, --version and the like. Through Bun's writer, not process.stdout: creating that
 * Node stream costs a compiled binary ~8 ms, which would be most of `client --version` (see
 * logger.ts for stderr).
 */
export async function printAndExit(text: string): Promise<never> {
  const stdout = createLineSink("stdout");
  stdout.write(`${text}\n`);
  await stdout.flush();
  process.exit(0);
}
