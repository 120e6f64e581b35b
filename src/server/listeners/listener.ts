// The listener layer: each kind of listener (TCP, TLS, Unix socket) opens its socket, names its
// address for the STARTING line, and hands every accepted socket to the same handlers
// (socket-handlers.ts). A listener knows nothing of limits or connections; the server composes
// it with the rest.
import { isIP } from "node:net";
import { formatAddress } from "../../net/address.ts";
import type { TlsCredentials } from "./tls-credentials.ts";

export type Transport = "tcp" | "tls" | "unix";

/** A TCP or TLS address: host and port (0 when asking for a free one). */
export interface NetworkAddress {
  transport: "tcp" | "tls";
  host: string;
  port: number;
}

/** A Unix socket: a file path, or `@name` for a Linux abstract socket (no file). */
export interface UnixAddress {
  transport: "unix";
  path: string;
}

/** Where a listener listens: as asked for (`--listen`), or as bound (the real port for port 0). */
export type ListenerAddress = NetworkAddress | UnixAddress;

export interface Listener {
  readonly address: ListenerAddress;
  /** Accept no one new; open connections are left alone (they get their goodbye). */
  stopAccepting(): void;
  /** Close the listening socket and drop every connection it still has. */
  close(): void;
  /**
   * TLS listeners only: serve new connections with `credentials` from now on; the ones already
   * open keep theirs. Throws a ListenError (and keeps the old credentials) when that fails.
   */
  reloadTls?(credentials: TlsCredentials): void;
}

/**
 * How logs name a listener: `127.0.0.1:12345` and `[::1]:12345` for TCP (v0.1's form),
 * `tls://127.0.0.1:12346`, `unix:/run/x.sock`, `unix:@name`.
 */
export function describeAddress(address: ListenerAddress): string {
  switch (address.transport) {
    case "tcp":
      return formatAddress(address.host, address.port);
    case "tls":
      return `tls://${formatAddress(address.host, address.port)}`;
    case "unix":
      return `unix:${address.path}`;
  }
}

/** Listening failed (or its TLS files are unusable); `message` is one plain sentence for the operator. */
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
export function listenError(error: unknown, address: ListenerAddress): ListenError {
  // Bun gives a name that does not resolve no code at all (one that resolves to an address
  // elsewhere is EADDRNOTAVAIL): for a name, that is what an error without a code means.
  const isName = address.transport !== "unix" && isIP(address.host) === 0;
  const code = (error as NodeJS.ErrnoException).code ?? (isName ? "ENOTFOUND" : undefined);
  const where = describeAddress(address);
  switch (code) {
    case "EADDRINUSE":
      return new ListenError(`Address ${where} is already in use`, code);
    case "EACCES":
    case "EPERM":
      return new ListenError(`Permission denied to listen on ${where}`, code);
    case "ENOENT":
      return new ListenError(`Cannot listen on ${where}: its folder does not exist`, code);
    case "EADDRNOTAVAIL":
      return new ListenError(`Address ${hostOf(address)} is not available on this machine`, code);
    case "ENOTFOUND":
    case "EAI_NONAME":
      return new ListenError(`Cannot resolve host ${hostOf(address)}`, code);
    default:
      return new ListenError(`Cannot listen on ${where}: ${(error as Error).message ?? String(error)}`, code);
  }
}

function hostOf(address: ListenerAddress): string {
  return address.transport === "unix" ? address.path : address.host;
}

/**
 * Why --proxy-protocol cannot serve these listeners, if it cannot. The PROXY header is for plain
 * TCP listeners: it comes in clear before anything else, and Bun's TLS listener starts its
 * handshake on the first bytes itself, so a tls:// listener cannot read one; a Unix socket's peer
 * has no address for a header to replace. Served without the header, such a listener would let
 * anyone past --proxy-from, so the combination is refused (fail closed).
 */
export function proxyProtocolProblem(
  addresses: readonly ListenerAddress[],
  option = "--proxy-protocol",
): string | undefined {
  const other = addresses.find((address) => address.transport !== "tcp");
  if (!other) return undefined;
  const why =
    other.transport === "tls"
      ? "a TLS listener starts its handshake on the first bytes, before a header could be read"
      : "a Unix socket's peer has no address for a header to replace";
  return `${option} works on plain TCP listeners only (${describeAddress(other)}: ${why}); terminate TLS in the proxy, or listen on TCP`;
}
