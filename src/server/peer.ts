// Who is on the other end of a connection, as every part of the server names it: `name` in logs
// and events, `address` for the rules that look at addresses (none for a Unix socket peer).
import { formatAddress } from "../net/address.ts";

export interface Peer {
  /** How logs name this peer: `127.0.0.1:59124`, `[::1]:59124`, `unix:/run/x.sock#7`. */
  readonly name: string;
  /** The client's IP address as the socket reports it; undefined where there is none (Unix). */
  readonly address: string | undefined;
  readonly port: number | undefined;
  /** With mutual TLS: the client certificate's CN, or its first SAN. */
  readonly subject?: string;
}

/** Names the peer of a freshly accepted socket, or says it is already gone (undefined). */
export type PeerNamer = (socket: { remoteAddress?: string; remotePort?: number }) => Peer | undefined;

/**
 * The peer of a freshly accepted TCP socket, or undefined when it is already gone: a client that
 * reset right after the accept leaves Bun without its address or port.
 */
export const tcpPeer: PeerNamer = (socket) => {
  // Read once: each read asks the kernel, and a client can reset in between.
  const { remoteAddress, remotePort } = socket;
  if (!remoteAddress || typeof remotePort !== "number") return undefined;
  return { name: formatAddress(remoteAddress, remotePort), address: remoteAddress, port: remotePort };
};

/**
 * Unix socket peers have no address of their own (clients rarely bind a name): each is numbered
 * in the order its listener accepted it, `unix:/run/x.sock#7`, so log lines tell them apart.
 */
export function unixPeers(listenerName: string): PeerNamer {
  let accepted = 0;
  return () => ({ name: `${listenerName}#${++accepted}`, address: undefined, port: undefined });
}
