// A plain TCP listener, and the bind that the TLS listener shares.
import type { SocketHandler, TCPSocketListener, TCPSocketListenOptions, TLSOptions } from "bun";
import type { SocketData } from "../socket-handlers.ts";
import { type Listener, listenError, type NetworkAddress } from "./listener.ts";

/**
 * `reusePort`: share the port with other processes that ask for it too (SO_REUSEPORT): the kernel
 * spreads new connections across them. How --workers runs several processes on one port (Linux).
 */
export function listenTcp(address: NetworkAddress, socket: SocketHandler<SocketData>, reusePort = false): Listener {
  const listener = bindTcp(address, socket, { reusePort });
  return {
    address: { ...address, port: listener.port },
    // stop(false) stops accepting and leaves open sockets alone; stop(true) drops them too.
    stopAccepting: () => listener.stop(false),
    close: () => listener.stop(true),
  };
}

/**
 * Bun.listen's options plus reusePort, which it honours on Linux but declares only for connect:
 * typed on its own, since the option written inline in the call would not compile.
 */
type ListenOptions = TCPSocketListenOptions<SocketData> & { reusePort?: boolean };

/**
 * Whether another process holds `address`, found by a bind without port sharing (closed at once):
 * it fails, with a ListenError, even when that process shares its port (a TLS listener, the
 * workers of another --workers server), where a sharing bind of ours would succeed and split the
 * clients with it. Returns the port (for port 0, the free one picked).
 */
export function claimPort(address: NetworkAddress): number {
  const probe = bindTcp(address, { data() {} });
  const port = probe.port;
  probe.stop(true);
  return port;
}

/** Binds `address` (throwing a ListenError with a plain reason), with TLS and port sharing if asked. */
export function bindTcp(
  address: NetworkAddress,
  socket: SocketHandler<SocketData>,
  { tls, reusePort = false }: { tls?: TLSOptions; reusePort?: boolean } = {},
): TCPSocketListener<SocketData> {
  const options: ListenOptions = {
    hostname: address.host,
    port: address.port,
    // Keep the socket writable after the client's FIN: its last acks are still owed.
    allowHalfOpen: true,
    reusePort,
    tls,
    socket,
  };
  try {
    return Bun.listen<SocketData>(options);
  } catch (error) {
    throw listenError(error, address);
  }
}
