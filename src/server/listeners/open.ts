// Opens every listener of a server, all or none: if one cannot listen, the ones already open
// are closed again before the error goes up, so a failed start leaves no socket (or file) behind.
import type { SocketHandler } from "bun";
import { tcpPeer, unixPeers } from "../peer.ts";
import type { SocketData, SocketStages } from "../socket-handlers.ts";
import { describeAddress, ListenError, type Listener, type ListenerAddress } from "./listener.ts";
import { listenTcp } from "./tcp.ts";
import { listenTls } from "./tls.ts";
import type { TlsCredentials } from "./tls-credentials.ts";
import { listenUnix } from "./unix.ts";

export interface OpenListenersOptions {
  /** The socket handlers for a listener with these stages (socketHandlers, bound to the server). */
  handlers(stages: SocketStages): SocketHandler<SocketData>;
  /** The TLS credentials in force (they change on reload); undefined without any. */
  tlsCredentials(): TlsCredentials | undefined;
  tlsHandshakeTimeoutMs: number;
  unixMode: number;
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
      return listenTcp(address, options.handlers({ peerOf: tcpPeer }));
    case "tls": {
      const credentials = options.tlsCredentials();
      if (!credentials) {
        throw new ListenError(
          `The listener ${describeAddress(address)} needs a TLS certificate and key (--tls-cert and --tls-key)`,
          "TLS_NO_CERTIFICATE",
        );
      }
      const stages: SocketStages = {
        peerOf: tcpPeer,
        tls: {
          handshakeTimeoutMs: options.tlsHandshakeTimeoutMs,
          mutual: () => options.tlsCredentials()?.clientCa !== undefined,
        },
      };
      return listenTls(address, credentials, options.handlers(stages));
    }
    case "unix":
      return listenUnix(address, options.unixMode, options.handlers({ peerOf: unixPeers(describeAddress(address)) }));
  }
}
