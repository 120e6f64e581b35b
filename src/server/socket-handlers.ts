// Bun's socket callbacks, turned into calls on one Connection. Every listener uses these same
// handlers, so a connection behaves the same however it arrived. They also keep the reset
// bookkeeping that spans two callbacks: Bun reports a reset as an `error`, as a `close` with an
// error, or both, and the log must say it once.
import type { Socket, SocketHandler } from "bun";
import type { Connection } from "./connection.ts";
import type { ServerEvents } from "./events.ts";
import { type Peer, tcpPeer } from "./peer.ts";

export interface SocketData {
  connection: Connection;
  /** Admitted and counted among the live connections (false: being turned away). */
  admitted: boolean;
  /** The reset is reported (once per connection). */
  reset: boolean;
}

/** What the handlers need of the server: a Connection for each new socket, and word when it ends. */
export interface Acceptor {
  /** A socket was accepted from `peer`: admit it or turn it away, and say which. */
  accept(socket: Socket<SocketData>, peer: Peer): SocketData;
  /** The socket is closed, by either side. */
  closed(data: SocketData): void;
}

export function socketHandlers(acceptor: Acceptor, events: ServerEvents): SocketHandler<SocketData> {
  return {
    open(socket) {
      const peer = tcpPeer(socket);
      // Gone before we saw it: nothing to serve (its acks could not be sent), count or log.
      if (!peer) return socket.terminate();
      // Bun's own socket timeout is a coarse ~4 s tick that does not close; the idle limit is ours.
      socket.timeout(0);
      // Bun shares one `data` object across a listener's sockets: each gets its own here.
      socket.data = acceptor.accept(socket, peer);
    },
    data(socket, chunk) {
      try {
        socket.data.connection.receive(chunk);
      } catch (error) {
        // A bug of ours must cost one connection, loudly, not leave it hanging unanswered.
        events.socketError?.(socket.data.connection.peer, error as Error);
        socket.data.connection.abort();
      }
    },
    drain(socket) {
      socket.data.connection.drained();
    },
    end(socket) {
      socket.data.connection.ended();
    },
    error(socket, error) {
      // Before `open` set it up, a socket has no data and nothing to report.
      const data = socket.data as SocketData | undefined;
      if (!data) return;
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ECONNRESET" || code === "EPIPE") return reportReset(data, events);
      events.socketError?.(data.connection.peer, error);
    },
    close(socket, error) {
      const data = socket.data as SocketData | undefined;
      if (!data || data.connection.state === "closed") return;
      if ((error as NodeJS.ErrnoException | undefined)?.code === "ECONNRESET") reportReset(data, events);
      data.connection.released();
      acceptor.closed(data);
    },
  };
}

/** Only admitted connections are logged as reset: a turned-away client was never announced. */
function reportReset(data: SocketData, events: ServerEvents): void {
  if (!data.reset && data.admitted) events.reset?.(data.connection.peer);
  data.reset = true;
}
