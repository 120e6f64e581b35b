// What startServer takes, and every default in one place: the library applies SERVER_DEFAULTS,
// and the CLI renders the same object in --help, so the two cannot drift apart.
import { MAX_TIMER_MS } from "../cli/args.ts";
import { LOOPBACK_BLOCKS } from "../net/cidr.ts";
import { ENDPOINT_DEFAULTS } from "../protocol/defaults.ts";
import type { Framing } from "../protocol/messages.ts";
import type { ServerEvents } from "./events.ts";
import { DEFAULT_LIMITS, type ServerLimits } from "./limits.ts";
import { type ListenerAddress, proxyProtocolProblem } from "./listeners/listener.ts";
import type { TlsFiles } from "./listeners/tls-credentials.ts";
import { DEFAULT_UNIX_MODE } from "./listeners/unix.ts";

export interface ServerOptions {
  /** Address to listen on: `127.0.0.1`, `::1`, `::` (every address, IPv4 and IPv6), a host name. */
  host?: string;
  /** TCP port; 0 picks a free one (RunningServer.port tells which). */
  port?: number;
  /**
   * Listeners of this one server (`--listen`), as addresses or in their text form
   * (`127.0.0.1:0`, `[::1]:12345`, `tls://0.0.0.0:12346`, `unix:/run/x.sock`, `unix:@name`).
   * When given, host and port are not used.
   */
  listen?: readonly (ListenerAddress | string)[];
  /** Certificate, key and client CA files for every `tls://` listener; re-read by reloadTls(). */
  tls?: TlsFiles;
  /** A TLS client whose handshake has not finished by then is closed (it is never served). */
  tlsHandshakeTimeoutMs?: number;
  /** Permissions of each Unix socket file (who may connect): 0o660, owner and group. */
  unixMode?: number;
  framing?: Framing;
  limits?: Partial<ServerLimits>;
  /** On stop(): how long to wait for connections to finish before dropping them. */
  drainTimeoutMs?: number;
  /**
   * How long a closing connection may go without progress (the peer reading its last replies,
   * then hanging up) before it is closed anyway; the clock restarts whenever the peer reads.
   */
  closeTimeoutMs?: number;
  /**
   * Serve only clients inside these blocks (`10.0.0.0/8`, `2001:db8::/32`, a bare address for
   * one host); none: everyone. IPv4-mapped IPv6 peers are matched as IPv4. Peers without an
   * address (Unix sockets) are not subject to it. A bad block throws a CidrError.
   */
  allow?: readonly string[];
  /** Refuse clients inside these blocks; a deny block wins over every allow block. */
  deny?: readonly string[];
  /**
   * Every connection on the TCP listeners starts with a PROXY protocol header (v1 or v2), and the
   * client it names is the peer: for a server behind HAProxy or another load balancer.
   */
  proxyProtocol?: boolean;
  /** Who may send a PROXY header; a connection from anywhere else is refused. */
  proxyFrom?: readonly string[];
  /** How long a trusted proxy has to send the whole header before the connection is refused. */
  proxyHeaderTimeoutMs?: number;
  /**
   * Let other processes listen on the same port (SO_REUSEPORT, Linux): the kernel spreads new
   * connections across them. The server program's workers each set it.
   */
  reusePort?: boolean;
  /**
   * A worker's: the whole server's --max-connections, of which limits.maxConnections is this
   * process's share. The log line of a client turned away names both.
   */
  wholeServerMaxConnections?: number;
  events?: ServerEvents;
}

export const SERVER_DEFAULTS = {
  ...ENDPOINT_DEFAULTS,
  tlsHandshakeTimeoutMs: 10_000,
  unixMode: DEFAULT_UNIX_MODE,
  limits: DEFAULT_LIMITS,
  drainTimeoutMs: 5000,
  closeTimeoutMs: 5000,
  allow: [],
  deny: [],
  proxyProtocol: false,
  proxyFrom: LOOPBACK_BLOCKS,
  proxyHeaderTimeoutMs: 5000,
  reusePort: false,
} as const satisfies Required<Omit<ServerOptions, "events" | "listen" | "tls" | "wholeServerMaxConnections">>;

/**
 * What the CLI's flag parsing guarantees, checked for the library's callers too, before anything
 * is opened: a number out of range, a framing or transport that does not exist, or an option
 * that nothing would use (TLS files with no tls:// listener, which would serve plain text) is a
 * mistake to report, not to serve around. Numbers out of range are RangeErrors, the rest TypeErrors.
 */
export function checkServerOptions(options: ServerOptions, addresses: readonly ListenerAddress[]): void {
  if (options.framing !== undefined && options.framing !== "line" && options.framing !== "raw")
    throw new TypeError(`framing must be "line" or "raw" (got ${String(options.framing)})`);
  for (const [name, deadline] of [
    ["drainTimeoutMs", false],
    ["closeTimeoutMs", false],
    // A deadline of 0 would close every client before it could begin.
    ["tlsHandshakeTimeoutMs", true],
    ["proxyHeaderTimeoutMs", true],
  ] as const)
    checkTimeout(name, options[name], deadline);
  // Permission bits only: setuid, setgid and sticky mean nothing on a socket file.
  checkWhole("unixMode", options.unixMode, 0, 0o777);
  checkWhole("port", options.port, 0, 65_535);
  for (const address of addresses) {
    if (address.transport === "tcp" || address.transport === "tls") {
      checkWhole("listen port", address.port, 0, 65_535);
      // Bun would refuse it at listen in its own words ('Expected either "hostname" or "unix"'); and
      // an empty host must not mean every address by accident, as Python's bind takes it.
      if (address.host === "")
        throw new TypeError('host is empty: give an address or a name ("::" or "0.0.0.0" for every address)');
    } else if (address.transport !== "unix")
      throw new TypeError(`listen: transport must be "tcp", "tls" or "unix" (got ${String(address.transport)})`);
  }
  if (options.tls && !addresses.some((address) => address.transport === "tls"))
    throw new TypeError("tls is for tls:// listeners, and listen has none: the server would serve plain text");
  const proxyProblem = options.proxyProtocol ? proxyProtocolProblem(addresses, "proxyProtocol") : undefined;
  if (proxyProblem) throw new TypeError(proxyProblem);
  // The default list (SERVER_DEFAULTS spread into the options, or a copy of it) and an empty one
  // ask for nothing; anything else does, and is for the PROXY header.
  const { proxyFrom } = options;
  const defaultList = SERVER_DEFAULTS.proxyFrom;
  const proxyFromGiven =
    proxyFrom !== undefined &&
    proxyFrom.length > 0 &&
    !(proxyFrom.length === defaultList.length && proxyFrom.every((block, i) => block === defaultList[i]));
  if (proxyFromGiven && !options.proxyProtocol)
    throw new TypeError("proxyFrom is for proxyProtocol: without it no PROXY header is read");
  if (options.proxyProtocol && proxyFrom?.length === 0)
    throw new TypeError("proxyFrom is empty: no source may send a PROXY header, so every client would be refused");
}

/** Milliseconds, fractions allowed (timers take them), within a timer's range. */
function checkTimeout(name: string, value: unknown, deadline: boolean): void {
  if (value === undefined) return;
  const least = deadline ? "more than 0" : "0 or more";
  if (typeof value !== "number" || !(deadline ? value > 0 : value >= 0) || !(value <= MAX_TIMER_MS))
    throw new RangeError(
      `${name} must be a number of milliseconds, ${least}, at most ${MAX_TIMER_MS} (got ${String(value)})`,
    );
}

function checkWhole(name: string, value: unknown, least: number, most: number): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isInteger(value) || value < least || value > most)
    throw new RangeError(`${name} must be a whole number from ${least} to ${most} (got ${String(value)})`);
}
