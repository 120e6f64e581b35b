// A TLS listener: TCP with a certificate, and a certificate that can be swapped without a restart.
// Bun cannot change a listening socket's certificate, so a reload binds a second listening socket
// to the same address with the new certificate and closes the old one: the kernel hands new
// connections to the new socket, and connections already accepted are not touched.
import type { SocketHandler, TCPSocketListener } from "bun";
import type { SocketData } from "../socket-handlers.ts";
import type { Listener, NetworkAddress } from "./listener.ts";
import { bindTcp, claimPort } from "./tcp.ts";
import { bunTlsOptions, type TlsCredentials } from "./tls-credentials.ts";

/** `shared`: other processes (the --workers) listen on this port too, on purpose. */
export function listenTls(
  requested: NetworkAddress,
  credentials: TlsCredentials,
  socket: SocketHandler<SocketData>,
  shared = false,
): Listener {
  // Not when shared: then the supervisor has claimed it (another of our workers may hold it).
  const claimed = shared ? requested : { ...requested, port: claimPort(requested) };
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
