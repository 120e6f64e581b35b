// Bun's socket callbacks, turned into calls on one Connection. Every listener uses these same
// handlers, so a connection behaves the same however it arrived. A listener may put a stage in
// front of the Connection (a TLS handshake; a PROXY header): until it is done the socket waits,
// nothing of it is admitted, counted or announced, and then it is accepted like any other. The
// handlers also keep the reset bookkeeping that spans two callbacks: Bun reports a reset as an
// `error`, as a `close` with an error, or both, and the log must say it once.
import type { Socket, SocketHandler } from "bun";
import type { Connection } from "./connection.ts";
import type { ServerEvents } from "./events.ts";
import type { Peer, PeerNamer } from "./peer.ts";

export interface SocketData {
  /** Who is on the other end: the socket's peer, or as its stage named it (a certificate's subject). */
  peer: Peer;
  /** Set once the socket is accepted, or being turned away; until then it waits for its stage. */
  connection: Connection | undefined;
  /** The stage the socket waits for. */
  stage: PendingStage | undefined;
  /** Admitted and counted among the live connections (false: being turned away, or waiting). */
  admitted: boolean;
  /** The reset is reported (once per connection). */
  reset: boolean;
}

/**
 * A step a new socket goes through before it is accepted (the TLS handshake). It calls `done`
 * once, to go on with the peer it names; a client it refuses it closes itself, and then never
 * calls `done`.
 */
export interface SocketStage {
  start(socket: Socket<SocketData>, peer: Peer, done: (peer: Peer) => void): PendingStage;
}

/** A started stage, told what happens to its socket until it calls `done`. */
export interface PendingStage {
  /** Bun's TLS handshake finished (well or not). */
  handshake?(success: boolean, authorizationError: Error | null): void;
  /** The client sent FIN: it will send nothing more. */
  ended(): void;
  /** The socket is gone: stop timers; `done` must not be called any more. */
  cancel(): void;
}

/** What the handlers need of the server: a Connection for each new socket, and word when it ends. */
export interface Acceptor {
  /** The socket is ready (its stage done, or none): admit `data.peer` or turn it away; sets `data.connection`. */
  accept(socket: Socket<SocketData>, data: SocketData): void;
  /** A socket with a connection is closed, by either side. */
  closed(data: SocketData): void;
}

/** What differs between listeners: how peers are named, and the stage in front of the Connection. */
export interface ListenerSockets {
  peerOf: PeerNamer;
  stage?: SocketStage;
}

export function socketHandlers(
  acceptor: Acceptor,
  events: ServerEvents,
  { peerOf, stage }: ListenerSockets,
): SocketHandler<SocketData> {
  return {
    open(socket) {
      const peer = peerOf(socket);
      // Gone before we saw it: nothing to serve (its acks could not be sent), count or log.
      if (!peer) return socket.terminate();
      // Bun's own socket timeout is a coarse ~4 s tick that does not close; the idle limit is ours.
      socket.timeout(0);
      // Bun shares one `data` object across a listener's sockets: each gets its own here.
      const data: SocketData = { peer, connection: undefined, stage: undefined, admitted: false, reset: false };
      socket.data = data;
      if (!stage) return acceptor.accept(socket, data);
      data.stage = stage.start(socket, peer, (named) => {
        data.stage = undefined;
        data.peer = named;
        acceptor.accept(socket, data);
      });
    },
    handshake(socket, success, authorizationError) {
      socket.data.stage?.handshake?.(success, authorizationError);
    },
    data(socket, chunk) {
      const connection = socket.data.connection;
      // A socket still in its stage has nothing to say yet (TLS gives no data before its handshake).
      if (!connection) return;
      try {
        connection.receive(chunk);
      } catch (error) {
        // A bug of ours must cost one connection, loudly, not leave it hanging unanswered.
        events.socketError?.(connection.peer, error as Error);
        connection.abort();
      }
    },
    drain(socket) {
      socket.data.connection?.drained();
    },
    end(socket) {
      const data = socket.data;
      if (data.connection) data.connection.ended();
      else data.stage?.ended();
    },
    error(socket, error) {
      // Before `open` set it up, or while in its stage, a socket has nothing to report here.
      const data = socket.data as SocketData | undefined;
      if (!data?.connection) return;
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ECONNRESET" || code === "EPIPE") return reportReset(data, events);
      events.socketError?.(data.connection.peer, error);
    },
    close(socket, error) {
      const data = socket.data as SocketData | undefined;
      if (!data) return;
      if (!data.connection) {
        // Gone while in its stage: never announced; the stage says what it has to say.
        data.stage?.cancel();
        data.stage = undefined;
        return;
      }
      if (data.connection.state === "closed") return;
      if ((error as NodeJS.ErrnoException | undefined)?.code === "ECONNRESET") reportReset(data, events);
      data.connection.released();
      acceptor.closed(data);
    },
  };
}

/** Only admitted connections are logged as reset: a turned-away client was never announced. */
function reportReset(data: SocketData, events: ServerEvents): void {
  if (!data.reset && data.admitted) events.reset?.(data.connection!.peer);
  data.reset = true;
}
