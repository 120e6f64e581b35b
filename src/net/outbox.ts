// Bun's socket.write() takes what the kernel accepts now and returns that count; Bun keeps no copy
// of the rest, so it is the caller's to keep and resend on `drain`. The outbox keeps it, in order,
// so no byte is dropped or sent twice, and it reports how much is waiting so callers can apply
// backpressure (stop reading from a peer that does not read its replies).

/** The part of Bun's socket that the outbox writes to. */
export interface WritableSocket {
  /**
   * Returns the bytes the kernel took (a string is written as UTF-8), or -1 when closed. Of bytes,
   * byteLength from byteOffset only.
   */
  write(data: string | Uint8Array, byteOffset?: number, byteLength?: number): number;
}

/** Where an outbox adds up the bytes the kernel took (ServerStats is one). */
export interface SentBytesCounter {
  sentBytes: number;
}

export class Outbox {
  private readonly queue: Uint8Array[] = [];
  /** Bytes accepted by send() and not yet taken by the kernel. */
  queuedBytes = 0;
  /** True once a write reported the socket closed; later sends are dropped. */
  closed = false;

  constructor(
    private readonly socket: WritableSocket,
    /** Shared by every outbox of a server, so its total is one add per write, not a sum at scrape time. */
    private readonly sent: SentBytesCounter = { sentBytes: 0 },
  ) {}

  get isEmpty(): boolean {
    return this.queuedBytes === 0;
  }

  /**
   * Sends `data` (of bytes, the first `byteLength`: a reused buffer needs no view made per send) or
   * keeps it to send; what it keeps is a copy, so `data` may be reused at once.
   */
  send(data: string | Uint8Array, byteLength?: number): void {
    if (typeof data === "string") return this.sendText(data);
    const length = byteLength ?? data.length;
    if (this.closed || length === 0) return;
    // Order: older bytes go first, so new ones wait behind them.
    if (this.queuedBytes > 0) return this.enqueue(Buffer.from(data.subarray(0, length)));
    const written = this.socket.write(data, 0, length);
    if (this.tookAll(written, length)) return;
    this.enqueue(Buffer.from(data.subarray(written, length)));
  }

  private sendText(text: string): void {
    if (this.closed || text.length === 0) return;
    if (this.queuedBytes > 0) return this.enqueue(Buffer.from(text));
    // A string goes to the socket as it is: Bun encodes it on the way, with no Buffer made per
    // send. Only the rare unsent rest is encoded here, to be kept as bytes.
    const written = this.socket.write(text);
    if (this.tookAll(written, Buffer.byteLength(text))) return;
    this.enqueue(Buffer.from(text).subarray(written));
  }

  /** Counts what a write took; false when a rest of `length` is left to keep. */
  private tookAll(written: number, length: number): boolean {
    if (written < 0) {
      this.closed = true;
      return true;
    }
    this.sent.sentBytes += written;
    return written === length;
  }

  /** Call from the socket's `drain` handler. Returns true when nothing is left to send. */
  flush(): boolean {
    while (this.queue.length > 0 && !this.closed) {
      const head = this.takeBatch();
      const written = this.socket.write(head);
      if (written < 0) {
        this.closed = true;
        break;
      }
      this.sent.sentBytes += written;
      this.queuedBytes -= written;
      if (written < head.length) {
        this.queue.unshift(head.subarray(written));
        return false;
      }
    }
    return this.queuedBytes === 0;
  }

  private enqueue(bytes: Uint8Array): void {
    this.queue.push(bytes);
    this.queuedBytes += bytes.length;
  }

  /** Removes and returns the next pieces, joined, so that a drain costs few large writes. */
  private takeBatch(): Uint8Array {
    let count = 0;
    let size = 0;
    while (count < this.queue.length && (count === 0 || size + this.queue[count]!.length <= BATCH_BYTES)) {
      size += this.queue[count]!.length;
      count++;
    }
    const pieces = this.queue.splice(0, count);
    return count === 1 ? pieces[0]! : Buffer.concat(pieces, size);
  }
}

const BATCH_BYTES = 256 * 1024;
