// What startServer takes, and every default in one place: the library applies SERVER_DEFAULTS,
// and the CLI renders the same object in --help, so the two cannot drift apart.
import { LOOPBACK_BLOCKS } from "../net/cidr.ts";
import { ENDPOINT_DEFAULTS } from "../protocol/defaults.ts";
import type { Framing } from "../protocol/messages.ts";
import type { ServerEvents } from "./events.ts";
import { DEFAULT_LIMITS, type ServerLimits } from "./limits.ts";
import type { ListenerAddress } from "./listeners/listener.ts";
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
