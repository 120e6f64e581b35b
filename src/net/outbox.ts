// Bun's socket.write() takes what the kernel accepts now and returns that count; Bun keeps no copy
// of the rest, so it is the caller's to keep and resend on `drain`. The outbox keeps it, in order,
// so no byte is dropped or sent twice, and it reports how much is waiting so callers can apply
// backpressure (stop reading from a peer that does not read its replies).

/** The part of Bun's socket that the outbox writes to. */
export interface WritableSocket {
  /** Returns the bytes the kernel took (a string is written as UTF-8), or -1 when closed. */
  write(data: string | Uint8Array): number;
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

  /** Sends `data` or keeps it to send; what it keeps is a copy, so `data` may be reused at once. */
  send(data: string | Uint8Array): void {
    if (this.closed || data.length === 0) return;
    if (this.queuedBytes > 0) {
      // Order: older bytes go first, so new ones wait behind them.
      this.enqueue(Buffer.from(data));
      return;
    }
    // A string goes to the socket as it is: Bun encodes it on the way, with no Buffer made per
    // send. Only the rare unsent rest is encoded here, to be kept as bytes.
    const written = this.socket.write(data);
    if (written < 0) {
      this.closed = true;
      return;
    }
    this.sent.sentBytes += written;
    const length = typeof data === "string" ? Buffer.byteLength(data) : data.length;
    if (written === length) return;
    this.enqueue(typeof data === "string" ? Buffer.from(data).subarray(written) : Buffer.from(data.subarray(written)));
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
