// A plain TCP listener.
import type { SocketHandler } from "bun";
import type { SocketData } from "../socket-handlers.ts";
import { type Listener, listenError } from "./listener.ts";

export interface TcpListenOptions {
  host: string;
  port: number;
}

export function listenTcp(options: TcpListenOptions, socket: SocketHandler<SocketData>): Listener {
  try {
    const listener = Bun.listen<SocketData>({
      hostname: options.host,
      port: options.port,
      // Keep the socket writable after the client's FIN: its last acks are still owed.
      allowHalfOpen: true,
      socket,
    });
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
