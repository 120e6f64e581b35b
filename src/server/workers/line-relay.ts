// A worker's output, re-emitted by the supervisor in whole lines only. A pipe takes a write of
// more than PIPE_BUF (4 KiB) in pieces, so two workers writing into one stdout would tear each
// other's lines; each worker writes into a pipe of its own instead, and only the supervisor writes
// to the real stdout, a whole number of lines at a time.

const LF = 0x0a;

export interface LineRelayTarget {
  /** Bytes holding one or more whole lines, each with its LF. */
  emit(lines: Uint8Array): void;
  /**
   * A promise while the target is behind (its reader is slow): the relay waits for it before
   * reading more, so the worker's pipe fills and the worker slows down, instead of memory growing.
   */
  behind(): Promise<void> | undefined;
}

/**
 * Relays `stream` until it ends. A last line without its LF (the worker was killed mid-write) is
 * dropped: half a line must not be glued to another worker's.
 */
export async function relayLines(stream: ReadableStream<Uint8Array>, target: LineRelayTarget): Promise<void> {
  let partial: Uint8Array | undefined;
  for await (const chunk of stream) {
    const lastLf = chunk.lastIndexOf(LF);
    if (lastLf === -1) {
      partial = join(partial, chunk);
      continue;
    }
    const whole = chunk.subarray(0, lastLf + 1);
    target.emit(partial ? join(partial, whole) : whole);
    partial = lastLf + 1 < chunk.length ? chunk.slice(lastLf + 1) : undefined;
    const behind = target.behind();
    if (behind) await behind;
  }
}

function join(head: Uint8Array | undefined, tail: Uint8Array): Uint8Array {
  if (!head) return tail.slice();
  const joined = new Uint8Array(head.length + tail.length);
  joined.set(head);
  joined.set(tail, head.length);
  return joined;
}
