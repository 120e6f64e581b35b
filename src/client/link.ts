// The client's connection to a server (TCP, TLS or a Unix socket): connect with our own timeout
// (src/net/connect.ts), send through an outbox (partial writes finished on drain), cut replies
// with the same framing code the server uses, and report once how the connection ended.
import type { Socket, SocketHandler } from "bun";
import { type ConnectTarget, connectWithTimeout } from "../net/connect.ts";
import { Outbox } from "../net/outbox.ts";
import { releaseRead } from "../net/release-read.ts";
import { describeTlsError, isTlsError, type TlsFailure } from "../net/tls-failure.ts";
import { createDeframer, type Deframer } from "../protocol/framing.ts";
import { type Framing, isWholeLastReply } from "../protocol/messages.ts";

export interface LinkOptions extends ConnectTarget {
  framing: Framing;
  connectTimeoutMs: number;
  /** A longer reply line is a broken server, not something to buffer without bound. */
  maxReplyBytes?: number;
}

export type LinkEnd =
  | { kind: "closed" }
  | { kind: "reset" }
  | { kind: "reply-too-long"; limit: number }
  /** TLS failed after the handshake: a server that wants a client certificate says so only then. */
  | { kind: "tls"; failure: TlsFailure }
  | { kind: "error"; error: Error };

export interface LinkHandlers {
  /** One reply: a line without its LF (line framing) or one read (raw framing). */
  reply(text: string): void;
  /** Optional: several complete reply lines at once (see LinesHandler in framing.ts). */
  replies?(lines: Buffer): void;
  /** The connection ended without our asking; called at most once. */
  ended(how: LinkEnd): void;
}

/** Room for the server's longest ack of its longest message (1 MiB by default), many times over. */
export const DEFAULT_MAX_REPLY_BYTES = 64 * 1024 * 1024;

export class ServerLink {
  private readonly outbox: Outbox;
  private readonly deframer: Deframer;
  private done = false;
  private drainWaiters: Array<() => void> = [];

  private constructor(
    private readonly socket: Socket<ServerLink | undefined>,
    private readonly handlers: LinkHandlers,
    private readonly maxReplyBytes: number,
    framing: Framing,
  ) {
    this.outbox = new Outbox(socket);
    this.deframer = createDeframer(framing, maxReplyBytes);
  }

  static open(options: LinkOptions, handlers: LinkHandlers): Promise<ServerLink> {
    const maxReplyBytes = options.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES;
    return connectWithTimeout<ServerLink>({
      target: options,
      timeoutMs: options.connectTimeoutMs,
      attach: (socket) => new ServerLink(socket, handlers, maxReplyBytes, options.framing),
      handlers: ServerLink.events(options.tls?.serverName ?? options.host),
    });
  }

  /**
   * Carries on a plaintext connection opened elsewhere, from its next event on: the one-shot
   * connects on its own and hands its connection over at the first event it does not handle
   * itself (src/client/one-shot.ts). Whatever the socket reports from then on must go to `events`.
   */
  static adopt(
    socket: Socket<unknown>,
    options: { host: string; framing: Framing },
    handlers: LinkHandlers,
  ): { link: ServerLink; events: LinkEvents } {
    const linked = socket as Socket<ServerLink | undefined>;
    linked.data = new ServerLink(linked, handlers, DEFAULT_MAX_REPLY_BYTES, options.framing);
    return { link: linked.data, events: ServerLink.events(options.host) };
  }

  send(data: string | Uint8Array): void {
    this.outbox.send(data);
  }

  /** Bytes written by send() that the kernel has not taken yet (none on a finished link: they never will be). */
  get queuedBytes(): number {
    // A sender waiting for room must not wait on a link that is gone: its end may be reported a
    // turn later (session.ts), and a wait that never yields would keep that turn from coming.
    return this.done ? 0 : this.outbox.queuedBytes;
  }

  /** Stops reading replies (they wait in the kernel, and the server slows down), or reads again. */
  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    this.socket.resume();
  }

  /** Resolves when everything sent so far is with the kernel (or the link is gone). */
  whenDrained(): Promise<void> {
    if (this.outbox.isEmpty || this.done) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** We are finished: close without reporting an end. */
  close(): void {
    if (this.done) return;
    this.done = true;
    this.socket.end();
    this.wakeDrainWaiters();
  }

  /** A reply's bytes are released when this returns: what the handlers keep, they copy. */
  private received(chunk: Buffer): void {
    if (this.done) return;
    const withinLimit = this.deframer.push(chunk, this.handlers.reply, this.handlers.replies);
    if (!withinLimit) {
      this.finish({ kind: "reply-too-long", limit: this.maxReplyBytes });
      this.socket.terminate();
    }
  }

  private drained(): void {
    if (this.outbox.flush()) this.wakeDrainWaiters();
  }

  private finish(how: LinkEnd): void {
    if (this.done) return;
    // A last reply without its line ending still counts when it is whole (a server that writes
    // and closes). A piece of one is nobody's ack: the close is what happened, and the message is
    // still owed (resent with --reconnect).
    const rest = how.kind === "closed" ? this.deframer.takeRest() : undefined;
    if (rest !== undefined && isWholeLastReply(rest)) this.handlers.reply(rest);
    if (this.done) return;
    this.done = true;
    this.wakeDrainWaiters();
    this.handlers.ended(how);
  }

  private wakeDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const wake of waiters) wake();
  }

  /** How the link takes its socket's events; `serverName` names the server in a TLS failure. */
  private static events(serverName: string): LinkEvents {
    return {
      data(socket, chunk) {
        socket.data?.received(chunk);
        // Every handler of a reply copies what it keeps (see received()).
        releaseRead(chunk);
      },
      drain: (socket) => socket.data?.drained(),
      end: (socket) => socket.data?.finish({ kind: "closed" }),
      error(socket, error) {
        const code = (error as NodeJS.ErrnoException).code;
        socket.data?.finish(
          isTlsError(error)
            ? { kind: "tls", failure: describeTlsError(error, serverName) }
            : code === "ECONNRESET" || code === "EPIPE"
              ? { kind: "reset" }
              : { kind: "error", error },
        );
      },
      close(socket, error) {
        const code = (error as NodeJS.ErrnoException | undefined)?.code;
        socket.data?.finish(code === "ECONNRESET" ? { kind: "reset" } : { kind: "closed" });
      },
    };
  }
}

/** The socket's events as a ServerLink takes them: Bun calls these with the link as the socket's data. */
export type LinkEvents = Required<
  Pick<SocketHandler<ServerLink | undefined>, "data" | "drain" | "end" | "error" | "close">
>;
