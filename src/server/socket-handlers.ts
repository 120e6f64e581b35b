// Bun's socket callbacks, turned into calls on one Connection. Every listener uses these same
// handlers, so a connection behaves the same however it arrived. A socket may first pass a stage
// (the TLS handshake) before it becomes a Connection: until then it is pending, and nothing of it
// is admitted, counted or announced. The handlers also keep the reset bookkeeping that spans two
// callbacks: Bun reports a reset as an `error`, as a `close` with an error, or both, and the log
// must say it once.
import type { Socket, SocketHandler } from "bun";
import type { Connection } from "./connection.ts";
import type { ServerEvents } from "./events.ts";
import { clientSubject, handshakeFailure } from "./listeners/tls-handshake.ts";
import type { Peer, PeerNamer } from "./peer.ts";

/** A socket that is a Connection (served, or being turned away). */
export interface ServedSocket {
  stage: "served";
  connection: Connection;
  /** Admitted and counted among the live connections (false: being turned away). */
  admitted: boolean;
  /** The reset is reported (once per connection). */
  reset: boolean;
}

/** A socket waiting for its TLS handshake, with a deadline; "failed" once it is being closed. */
export interface PendingSocket {
  stage: "pending" | "failed";
  peer: Peer;
  deadline: Timer;
}

export type SocketData = ServedSocket | PendingSocket;

/** What the handlers need of the server: a Connection for each new socket, and word when it ends. */
export interface Acceptor {
  /** A socket was accepted from `peer` (and passed its stages): admit it or turn it away, and say which. */
  accept(socket: Socket<SocketData>, peer: Peer): ServedSocket;
  /** The socket is closed, by either side. */
  closed(data: ServedSocket): void;
  /** A TLS client was not served: its handshake failed, or did not finish in time. */
  handshakeFailed(peer: Peer, reason: string): void;
}

/** What differs between listeners: how peers are named, and whether a TLS handshake comes first. */
export interface SocketStages {
  peerOf: PeerNamer;
  tls?: {
    handshakeTimeoutMs: number;
    /** Whether clients must show a certificate from the client CA (it can change on reload). */
    mutual(): boolean;
  };
}

export function socketHandlers(
  acceptor: Acceptor,
  events: ServerEvents,
  { peerOf, tls }: SocketStages,
): SocketHandler<SocketData> {
  const fail = (socket: Socket<SocketData>, data: PendingSocket, reason: string) => {
    if (data.stage === "failed") return;
    data.stage = "failed";
    clearTimeout(data.deadline);
    acceptor.handshakeFailed(data.peer, reason);
    socket.end();
  };
  return {
    open(socket) {
      const peer = peerOf(socket);
      // Gone before we saw it: nothing to serve (its acks could not be sent), count or log.
      if (!peer) return socket.terminate();
      // Bun's own socket timeout is a coarse ~4 s tick that does not close; the idle limit is ours.
      socket.timeout(0);
      // Bun shares one `data` object across a listener's sockets: each gets its own here.
      if (!tls) {
        socket.data = acceptor.accept(socket, peer);
        return;
      }
      // On a TLS socket `open` comes before the handshake: who the client is is not known yet.
      const pending: PendingSocket = {
        stage: "pending",
        peer,
        deadline: setTimeout(
          () => fail(socket, pending, `no handshake within ${tls.handshakeTimeoutMs / 1000} s`),
          tls.handshakeTimeoutMs,
        ),
      };
      socket.data = pending;
    },
    handshake(socket, success, authorizationError) {
      const data = socket.data;
      if (!tls || data?.stage !== "pending") return;
      const mutual = tls.mutual();
      const reason = handshakeFailure(socket, success, authorizationError, mutual);
      if (reason !== undefined) return fail(socket, data, reason);
      clearTimeout(data.deadline);
      const subject = mutual ? clientSubject(socket) : undefined;
      socket.data = acceptor.accept(socket, subject === undefined ? data.peer : { ...data.peer, subject });
    },
    data(socket, chunk) {
      const data = socket.data;
      // A pending socket has nothing to say yet (TLS gives no data before its handshake).
      if (data.stage !== "served") return;
      try {
        data.connection.receive(chunk);
      } catch (error) {
        // A bug of ours must cost one connection, loudly, not leave it hanging unanswered.
        events.socketError?.(data.connection.peer, error as Error);
        data.connection.abort();
      }
    },
    drain(socket) {
      if (socket.data.stage === "served") socket.data.connection.drained();
    },
    end(socket) {
      const data = socket.data;
      if (data.stage === "served") data.connection.ended();
      else fail(socket, data, "the client hung up during the handshake");
    },
    error(socket, error) {
      // Before `open` set it up, a socket has no data and nothing to report.
      const data = socket.data as SocketData | undefined;
      if (data?.stage !== "served") return;
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ECONNRESET" || code === "EPIPE") return reportReset(data, events);
      events.socketError?.(data.connection.peer, error);
    },
    close(socket, error) {
      const data = socket.data as SocketData | undefined;
      if (!data) return;
      if (data.stage !== "served") {
        const reset = (error as NodeJS.ErrnoException | undefined)?.code === "ECONNRESET";
        return fail(socket, data, `the client ${reset ? "reset the connection" : "hung up"} during the handshake`);
      }
      if (data.connection.state === "closed") return;
      if ((error as NodeJS.ErrnoException | undefined)?.code === "ECONNRESET") reportReset(data, events);
      data.connection.released();
      acceptor.closed(data);
    },
  };
}

/** Only admitted connections are logged as reset: a turned-away client was never announced. */
function reportReset(data: ServedSocket, events: ServerEvents): void {
  if (!data.reset && data.admitted) events.reset?.(data.connection.peer);
  data.reset = true;
}
