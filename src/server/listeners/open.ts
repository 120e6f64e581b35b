// Opens every listener of a server, all or none: if one cannot listen, the ones already open
// are closed again before the error goes up, so a failed start leaves no socket (or file) behind.
import type { SocketHandler } from "bun";
import { type Peer, tcpPeer, unixPeers } from "../peer.ts";
import type { ListenerSockets, SocketData, SocketStage } from "../socket-handlers.ts";
import { describeAddress, ListenError, type Listener, type ListenerAddress } from "./listener.ts";
import { listenTcp } from "./tcp.ts";
import { listenTls } from "./tls.ts";
import type { TlsCredentials } from "./tls-credentials.ts";
import { tlsHandshakeStage } from "./tls-stage.ts";
import { listenUnix } from "./unix.ts";

export interface OpenListenersOptions {
  /** The socket handlers for a listener of this kind (socketHandlers, bound to the server). */
  handlers(sockets: ListenerSockets): SocketHandler<SocketData>;
  /** The TLS credentials in force (they change on reload); undefined without any. */
  tlsCredentials(): TlsCredentials | undefined;
  /** Stages in front of every plain TCP connection (the PROXY header, with --proxy-protocol). */
  tcpStages: readonly SocketStage[];
  tlsHandshakeTimeoutMs: number;
  /** A TLS client was not served (its handshake failed or timed out). */
  tlsFailed(peer: Peer, reason: string): void;
  /** An `ERROR <notice>` line in the server's framing, for a client turned away after its handshake. */
  noticeLine(notice: string): string;
  unixMode: number;
  /** TCP and TLS listeners share their port with other processes (the --workers). */
  reusePort: boolean;
}

export function openListeners(addresses: readonly ListenerAddress[], options: OpenListenersOptions): Listener[] {
  const opened: Listener[] = [];
  try {
    for (const address of addresses) opened.push(open(address, options));
  } catch (error) {
    for (const listener of opened) listener.close();
    throw error;
  }
  return opened;
}

function open(address: ListenerAddress, options: OpenListenersOptions): Listener {
  switch (address.transport) {
    case "tcp":
      return listenTcp(address, options.handlers({ peerOf: tcpPeer, stages: options.tcpStages }), options.reusePort);
    case "tls": {
      const credentials = options.tlsCredentials();
      if (!credentials) {
        throw new ListenError(
          `The listener ${describeAddress(address)} needs a TLS certificate and key (--tls-cert and --tls-key; the library's tls option)`,
          "TLS_NO_CERTIFICATE",
        );
      }
      const stage = tlsHandshakeStage({
        handshakeTimeoutMs: options.tlsHandshakeTimeoutMs,
        mutual: () => options.tlsCredentials()?.clientCa !== undefined,
        failed: options.tlsFailed,
        noticeLine: options.noticeLine,
      });
      return listenTls(
        address,
        credentials,
        options.handlers({ peerOf: tcpPeer, stages: [stage], stagesKeepPeer: true }),
        options.reusePort,
      );
    }
    case "unix":
      return listenUnix(address, options.unixMode, options.handlers({ peerOf: unixPeers(describeAddress(address)) }));
  }
}
