// A plain TCP listener.
import type { SocketHandler, TCPSocketListenOptions } from "bun";
import type { SocketData } from "../socket-handlers.ts";
import { type Listener, listenError } from "./listener.ts";

export interface TcpListenOptions {
  host: string;
  port: number;
  /**
   * Share the port with other processes that ask for it too (SO_REUSEPORT): the kernel spreads
   * new connections across them. How --workers runs several processes on one port (Linux).
   */
  reusePort?: boolean;
}

export function listenTcp(options: TcpListenOptions, socket: SocketHandler<SocketData>): Listener {
  // Typed on its own: Bun takes reusePort on listen at run time, but its types declare it only for
  // connect, so the option written inline in the call would not compile.
  const listenOptions: TCPSocketListenOptions<SocketData> & { reusePort?: boolean } = {
    hostname: options.host,
    port: options.port,
    // Keep the socket writable after the client's FIN: its last acks are still owed.
    allowHalfOpen: true,
    reusePort: options.reusePort ?? false,
    socket,
  };
  try {
    const listener = Bun.listen<SocketData>(listenOptions);
    return {
      address: { transport: "tcp", host: options.host, port: listener.port },
      // stop(false) stops accepting and leaves open sockets alone; stop(true) drops them too.
      stopAccepting: () => listener.stop(false),
      close: () => listener.stop(true),
    };
  } catch (error) {
    throw listenError(error, options.host, options.port);
  }
}
