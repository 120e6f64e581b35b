// The listener layer: each kind of listener (TCP today) opens its socket, names its address for
// the STARTING line, and hands every accepted socket to the same handlers (socket-handlers.ts).
// A listener knows nothing of limits or connections; the server composes it with the rest.
import { formatAddress } from "../../net/address.ts";

export type Transport = "tcp";

export interface ListenerAddress {
  transport: Transport;
  host: string;
  /** The port really bound (the one asked for, or the one picked for port 0). */
  port: number;
}

export interface Listener {
  readonly address: ListenerAddress;
  /** Accept no one new; open connections are left alone (they get their goodbye). */
  stopAccepting(): void;
  /** Close the listening socket and drop every connection it still has. */
  close(): void;
}

/** How the STARTING line names a listener: `127.0.0.1:12345`, `[::1]:12345`. */
export function describeAddress(address: ListenerAddress): string {
  return formatAddress(address.host, address.port);
}

/** Listening failed; `message` is one plain sentence for the operator. */
export class ListenError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = "ListenError";
  }
}

/** Bun throws `Failed to listen at <host>` with an errno code: say what it means instead. */
export function listenError(error: unknown, host: string, port: number): ListenError {
  const code = (error as NodeJS.ErrnoException).code;
  const where = formatAddress(host, port);
  switch (code) {
    case "EADDRINUSE":
      return new ListenError(`Address ${where} is already in use`, code);
    case "EACCES":
    case "EPERM":
      return new ListenError(`Permission denied to listen on ${where}`, code);
    case "EADDRNOTAVAIL":
      return new ListenError(`Address ${host} is not available on this machine`, code);
    case "ENOTFOUND":
    case "EAI_NONAME":
      return new ListenError(`Cannot resolve host ${host}`, code);
    default:
      return new ListenError(`Cannot listen on ${where}: ${(error as Error).message ?? String(error)}`, code);
  }
}
