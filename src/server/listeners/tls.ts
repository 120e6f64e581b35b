// A TLS listener: TCP with a certificate, and a certificate that can be swapped without a restart.
// Bun cannot change a listening socket's certificate, so a reload binds a second listening socket
// to the same address with the new certificate and closes the old one: the kernel hands new
// connections to the new socket, and connections already accepted are not touched.
import type { SocketHandler, TCPSocketListener } from "bun";
import type { SocketData } from "../socket-handlers.ts";
import type { Listener, NetworkAddress } from "./listener.ts";
import { bindTcp } from "./tcp.ts";
import { bunTlsOptions, type TlsCredentials } from "./tls-credentials.ts";

/** `shared`: other processes (the --workers) listen on this port too, on purpose. */
export function listenTls(
  requested: NetworkAddress,
  credentials: TlsCredentials,
  socket: SocketHandler<SocketData>,
  shared = false,
): Listener {
  const claimed = shared ? requested : { ...requested, port: claimPort(requested, socket) };
  let listener: TCPSocketListener<SocketData> = bindTcp(claimed, socket, {
    tls: bunTlsOptions(credentials),
    reusePort: true,
  });
  // The port really bound: the claimed one, or the one picked for a shared port 0.
  const address = { ...requested, port: listener.port };
  // Listening sockets replaced by a reload, closed with the rest at close().
  const retired: Array<TCPSocketListener<SocketData>> = [];
  return {
    address,
    stopAccepting: () => listener.stop(false),
    close: () => {
      for (const old of retired) old.stop(true);
      listener.stop(true);
    },
    reloadTls(next) {
      // Throws a ListenError (and the old socket keeps serving) if the new one cannot bind.
      const replacement = bindTcp(address, socket, { tls: bunTlsOptions(next), reusePort: true });
      // From here the kernel hands new connections to the replacement only.
      listener.stop(false);
      retired.push(listener);
      listener = replacement;
    },
  };
}

/**
 * The port to share, found by a bind without port sharing: it fails if another process holds the
 * address (even one that shares its port), so a second server is refused as "already in use"
 * instead of silently splitting the clients with the first. For port 0 it picks the free port.
 */
function claimPort(address: NetworkAddress, socket: SocketHandler<SocketData>): number {
  const probe = bindTcp(address, socket);
  const port = probe.port;
  probe.stop(true);
  return port;
}
