// Bun's socket callbacks, turned into calls on one Connection. Every listener uses these same
// handlers, so a connection behaves the same however it arrived. A listener may put stages in
// front of the Connection (a PROXY header, a TLS handshake): until they are done the socket
// waits, its bytes go to the stage, and then it is accepted like any other (or turned away). The
// handlers also keep the reset bookkeeping that spans two callbacks: Bun reports a reset as an
// `error`, as a `close` with an error, or both, and the log must say it once.
import type { Socket, SocketHandler } from "bun";
import type { Rejection } from "./admission.ts";
import type { Connection } from "./connection.ts";
import type { ServerEvents } from "./events.ts";
import type { Peer, PeerNamer } from "./peer.ts";

export interface SocketData {
  /** Who is on the other end: the socket's peer, or the client a stage named (a PROXY header's). */
  peer: Peer;
  /** Set once the socket is accepted, or being turned away; until then it waits for a stage. */
  connection: Connection | undefined;
  /** The stage the socket waits for (the running one). */
  stage: PendingStage | undefined;
  /** Counted among the sockets waiting for stages (Acceptor.waiting). */
  waiting: boolean;
  /** The address a waiting socket holds a place of (its own, when the stages keep it), if any. */
  waitingAddress?: string;
  /** Admitted and counted among the live connections (false: being turned away, or waiting). */
  admitted: boolean;
  /** The reset is reported (once per connection). */
  reset: boolean;
}

/**
 * A step a new socket goes through before it is accepted: reading a PROXY header, a TLS
 * handshake. It calls `done` once: to go on (with the peer it names, and any bytes that came
 * after its own, which are the client's first payload), or to turn the client away with a notice.
 * It may call `done` before start() returns, and then returns nothing. A client that cannot be
 * told anything (a failed TLS handshake) the stage may close itself: the close cancels it.
 */
export interface SocketStage {
  /**
   * Optional: a refusal the opening peer earns by itself, checked before the server's own screen,
   * so that a source not let in learns nothing more (not that the server is full). Only the first
   * stage's is asked: the stages after it may see another peer.
   */
  screen?(peer: Peer): Rejection | undefined;
  start(socket: Socket<SocketData>, peer: Peer, done: (outcome: StageOutcome) => void): PendingStage | undefined;
}

export type StageOutcome = { peer: Peer; rest?: Buffer } | { rejection: Rejection };

/** A started stage, told what happens to its socket until it calls `done`. */
export interface PendingStage {
  /** Bytes from the client. */
  data(chunk: Buffer): void;
  /** Bun's TLS handshake finished (well or not). */
  handshake?(success: boolean, authorizationError: Error | null): void;
  /** The client sent FIN: it will send nothing more. */
  ended(): void;
  /**
   * Stop timers; `done` must not be called any more. `gone`: the socket closed (the client left,
   * which a stage may report); `stopping`: the server is stopping and says so itself.
   */
  cancel(why: "gone" | "stopping"): void;
}

/** What the handlers need of the server: a Connection for each new socket, and word when it ends. */
export interface Acceptor {
  /**
   * Checks made as a socket opens, before its stages: a Rejection turns it away at once.
   * `peerIsClient`: the opening address is the client's own (a TLS handshake does not change it;
   * a PROXY header does), so the rules about addresses can be applied now, before the stages.
   */
  screen(peer: Peer, peerIsClient: boolean): Rejection | undefined;
  /**
   * A socket starts (1) or stops (-1) waiting for its stages: it holds a place under the connection
   * limit (and under its address's cap, where `peerIsClient` as for screen), and a server that
   * stops turns it away (its stage cancelled with "stopping").
   */
  waiting(socket: Socket<SocketData>, data: SocketData, change: 1 | -1, peerIsClient?: boolean): void;
  /** The socket is ready (stages done, or none): admit `data.peer` or turn it away; sets `data.connection`. */
  accept(socket: Socket<SocketData>, data: SocketData): void;
  /** Turns the client away with the rejection's notice; sets `data.connection`. */
  refuse(socket: Socket<SocketData>, data: SocketData, rejection: Rejection): void;
  /** A socket with a connection is closed, by either side. */
  closed(data: SocketData): void;
}

/** What differs between listeners: how peers are named, and the stages in front of the Connection. */
export interface ListenerSockets {
  peerOf: PeerNamer;
  stages?: readonly SocketStage[];
  /** The stages never name another peer (a TLS handshake): see Acceptor.screen. */
  stagesKeepPeer?: boolean;
}

export function socketHandlers(
  acceptor: Acceptor,
  events: ServerEvents,
  { peerOf, stages = [], stagesKeepPeer = false }: ListenerSockets,
): SocketHandler<SocketData> {
  const stopWaiting = (socket: Socket<SocketData>, data: SocketData) => {
    if (!data.waiting) return;
    data.waiting = false;
    acceptor.waiting(socket, data, -1);
  };

  /** Runs stages[index] and the ones after it, then accepts; `rest` is input that came after the last stage. */
  const runStages = (socket: Socket<SocketData>, data: SocketData, index: number, rest?: Buffer): void => {
    const stage = stages[index];
    if (!stage) {
      stopWaiting(socket, data);
      acceptor.accept(socket, data);
      if (rest && rest.length > 0) data.connection?.receive(rest);
      return;
    }
    let settled = false;
    const pending = stage.start(socket, data.peer, (outcome) => {
      settled = true;
      data.stage = undefined;
      if ("rejection" in outcome) {
        stopWaiting(socket, data);
        acceptor.refuse(socket, data, outcome.rejection);
        return;
      }
      data.peer = outcome.peer;
      runStages(socket, data, index + 1, outcome.rest);
    });
    if (settled || !pending) return;
    data.stage = pending;
    if (rest && rest.length > 0) pending.data(rest);
  };

  return {
    open(socket) {
      const peer = peerOf(socket);
      // Gone before we saw it: nothing to serve (its acks could not be sent), count or log.
      if (!peer) return socket.terminate();
      // Bun's own socket timeout is a coarse ~4 s tick that does not close; the idle limit is ours.
      socket.timeout(0);
      // Bun shares one `data` object across a listener's sockets: each gets its own here.
      const data: SocketData = {
        peer,
        connection: undefined,
        stage: undefined,
        waiting: false,
        admitted: false,
        reset: false,
      };
      socket.data = data;
      if (stages.length === 0) return acceptor.accept(socket, data);
      const rejection = stages[0]!.screen?.(peer) ?? acceptor.screen(peer, stagesKeepPeer);
      if (rejection) return acceptor.refuse(socket, data, rejection);
      data.waiting = true;
      acceptor.waiting(socket, data, 1, stagesKeepPeer);
      runStages(socket, data, 0);
    },
    handshake(socket, success, authorizationError) {
      socket.data.stage?.handshake?.(success, authorizationError);
    },
    data(socket, chunk) {
      const data = socket.data;
      try {
        if (data.connection) data.connection.receive(chunk);
        else data.stage?.data(chunk);
      } catch (error) {
        // A bug of ours must cost one connection, loudly, not leave it hanging unanswered.
        events.socketError?.(data.peer.name, error as Error);
        if (data.connection) data.connection.abort();
        else socket.end();
      }
    },
    drain(socket) {
      socket.data.connection?.drained();
    },
    end(socket) {
      const data = socket.data;
      // A stage told of the FIN may turn the client away; its connection then hears of it too.
      if (!data.connection) data.stage?.ended();
      data.connection?.ended();
    },
    error(socket, error) {
      // Before `open` set it up, a socket has no data and nothing to report.
      const data = socket.data as SocketData | undefined;
      if (!data) return;
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ECONNRESET" || code === "EPIPE") return reportReset(data, events);
      events.socketError?.(data.peer.name, error);
    },
    close(socket, error) {
      const data = socket.data as SocketData | undefined;
      if (!data) return;
      if (!data.connection) {
        // Gone while waiting for a stage: never announced, so nothing to log.
        data.stage?.cancel("gone");
        data.stage = undefined;
        stopWaiting(socket, data);
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
