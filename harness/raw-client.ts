// A raw TCP client with no manners of its own, for the tests and the soak: it writes exactly the
// bytes it is given, collects (or just counts) what the server sends back, can stop reading,
// half-close or reset, and tells how the server ended the connection. Built on Bun.connect and the
// project's own Outbox: Bun's write() takes only what the kernel accepts now, and the outbox keeps
// the rest for `drain`, so a large write is finished instead of silently cut short.
import type { Socket, SocketHandler, TCPSocketConnectOptions, TLSOptions } from "bun";
import { Outbox } from "../src/net/outbox.ts";
import { TextCollector } from "./text-collector.ts";
import { DEADLINE_MS, eventually, withDeadline } from "./wait.ts";

/** How the connection ended: the server's FIN, a reset, or a close without either. */
export type Ending = "end" | "reset" | "close";

export class RawClient implements Disposable {
  /** Everything the server sent, decoded as UTF-8 (unless `keepReplies` is off). */
  readonly replies = new TextCollector();
  /**
   * Keep what the server sends in `replies`; off for a client that receives hundreds of
   * megabytes and only counts them (`receivedBytes`, `receivedLines`).
   */
  keepReplies = true;
  receivedBytes = 0;
  /**
   * Whether the bytes kept in `replies` were valid UTF-8 as sent: `replies` itself cannot tell,
   * decoding shows invalid bytes as U+FFFD, the very thing a server must send in their place.
   */
  repliesWereUtf8 = true;
  private readonly strictDecoder = new TextDecoder("utf-8", { fatal: true });
  /** LF bytes received: reply lines, counted whether or not the replies are kept. */
  receivedLines = 0;
  /** Resolves once the connection is gone, with how it went. */
  readonly ending: Promise<Ending>;
  /** How the connection ended, once it has. */
  endedAs: Ending | undefined;
  /** Our side's port (kept: Bun forgets it once the socket is closed); the server names us by it. */
  readonly localPort: number;
  private settle!: (how: Ending) => void;
  private readonly decoder = new TextDecoder();
  private readonly outbox: Outbox;
  /** Bytes handed to write(), sent or still queued. */
  private writtenOrQueued = 0;
  private finishWhenDrained = false;

  private constructor(private readonly socket: Socket<RawClient>) {
    this.localPort = socket.localPort;
    this.outbox = new Outbox(socket);
    this.ending = new Promise((resolve) => (this.settle = resolve));
  }

  /**
   * To a TCP port (from `via.localAddress`: 127.0.0.2 and the rest of 127/8 are this machine's),
   * `via` TLS (with these options), or to a Unix socket (a path; `\0name` is abstract).
   */
  static async connect(
    port: number,
    host = "127.0.0.1",
    via: { tls?: TLSOptions; unix?: string; localAddress?: string } = {},
  ): Promise<RawClient> {
    let client: RawClient | undefined;
    // A TLS connect resolves before its `open` (which waits for the handshake): whichever is first.
    const attach = (socket: Socket<RawClient>) => {
      if (client) return;
      client = new RawClient(socket);
      socket.data = client;
    };
    const socket: SocketHandler<RawClient> = {
      open: attach,
      data: (socket, chunk) => socket.data.received(chunk),
      drain: (socket) => socket.data.drained(),
      end(socket) {
        socket.data.over("end");
        // The server is done with us: finish the close, so that neither side holds a descriptor.
        socket.end();
      },
      error: (socket, error) => socket.data?.over(isReset(error) ? "reset" : "close"),
      close: (socket, error) => socket.data?.over(isReset(error) ? "reset" : "close"),
    };
    // Bun.connect binds its side to `localAddress`, though bun-types 1.4.4 does not declare it.
    const tcpOptions: TCPSocketConnectOptions<RawClient> & { localAddress?: string } = {
      hostname: host,
      port,
      localAddress: via.localAddress,
      tls: via.tls,
      allowHalfOpen: true,
      socket,
    };
    // Our FIN (finishSending) must not close the socket: the server still owes us replies.
    attach(
      via.unix !== undefined
        ? await Bun.connect<RawClient>({ unix: via.unix, allowHalfOpen: true, socket })
        : await Bun.connect<RawClient>(tcpOptions),
    );
    return client!;
  }

  get isEnded(): boolean {
    return this.endedAs !== undefined;
  }

  /** Queues bytes; they go out as the kernel takes them. Nothing is sent once the connection is gone. */
  write(data: string | Uint8Array): void {
    if (this.isEnded || this.outbox.closed) return;
    this.writtenOrQueued += typeof data === "string" ? Buffer.byteLength(data) : data.length;
    this.outbox.send(data);
  }

  /** Bytes the kernel has taken from us. */
  get writtenBytes(): number {
    return this.writtenOrQueued - this.outbox.queuedBytes;
  }

  /** Bytes queued here that the kernel has not taken yet. */
  get queuedBytes(): number {
    return this.outbox.queuedBytes;
  }

  /** Resolves once everything queued is with the kernel, or the connection is gone. */
  sent(deadlineMs = DEADLINE_MS): Promise<void> {
    return this.until(() => this.outbox.isEmpty, deadlineMs, "bytes not sent");
  }

  /**
   * Resolves when `test` holds or the connection has ended (the caller checks which), and
   * rejects at the deadline.
   */
  until(test: () => boolean, deadlineMs = DEADLINE_MS, what = "condition not met"): Promise<void> {
    return eventually(() => test() || this.isEnded, deadlineMs, what);
  }

  /**
   * Writes `data` in pieces of `pieceBytes`, giving the event loop a turn between pieces, so
   * that a server in this process (or on loopback) reads each piece on its own.
   */
  async writeInPieces(data: string | Uint8Array, pieceBytes = 1): Promise<void> {
    const bytes = typeof data === "string" ? Buffer.from(data) : data;
    for (let start = 0; start < bytes.length; start += pieceBytes) {
      this.write(bytes.subarray(start, start + pieceBytes));
      await Bun.sleep(2);
    }
  }

  /**
   * Waits until the server has sent `pattern` (a string or regular expression); rejects at the
   * deadline, or when the connection ends without it.
   */
  waitFor(pattern: string | RegExp, deadlineMs = DEADLINE_MS): Promise<RegExpMatchArray> {
    return this.replies.waitFor(pattern, deadlineMs);
  }

  /** Waits for the server to end the connection. */
  closedByServer(deadlineMs = DEADLINE_MS): Promise<Ending> {
    return withDeadline(this.ending, deadlineMs, "the server did not close the connection");
  }

  /** Stops reading: the server's replies pile up in the kernel, then in the server. */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /**
   * Sends FIN but keeps reading: "I am done sending", as `nc -N` does at the end of its input.
   * The FIN follows every byte written so far (it waits for the outbox to drain).
   */
  finishSending(): void {
    if (this.outbox.isEmpty) this.socket.shutdown();
    else this.finishWhenDrained = true;
  }

  /** Hangs up. */
  end(): void {
    this.socket.end();
  }

  /** Hangs up with a reset (RST), as a crashed client would. */
  terminate(): void {
    this.socket.terminate();
  }

  /** `using client = await RawClient.connect(...)` resets it at the end of the scope. */
  [Symbol.dispose](): void {
    if (!this.isEnded) this.terminate();
  }

  private received(chunk: Buffer): void {
    this.receivedBytes += chunk.length;
    for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) this.receivedLines++;
    if (!this.keepReplies) return;
    this.replies.append(this.decoder.decode(chunk, { stream: true }));
    if (this.repliesWereUtf8) {
      try {
        this.strictDecoder.decode(chunk, { stream: true });
      } catch {
        this.repliesWereUtf8 = false;
      }
    }
  }

  private drained(): void {
    if (this.outbox.flush() && this.finishWhenDrained) {
      this.finishWhenDrained = false;
      this.socket.shutdown();
    }
  }

  private over(how: Ending): void {
    if (this.isEnded) return;
    this.endedAs = how;
    this.replies.finish();
    this.settle(how);
  }
}

function isReset(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === "ECONNRESET" || code === "EPIPE";
}
