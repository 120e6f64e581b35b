// What startServer takes, and every default in one place: the library applies SERVER_DEFAULTS,
// and the CLI renders the same object in --help, so the two cannot drift apart.
import { ENDPOINT_DEFAULTS } from "../protocol/defaults.ts";
import type { Framing } from "../protocol/messages.ts";
import type { ServerEvents } from "./events.ts";
import { DEFAULT_LIMITS, type ServerLimits } from "./limits.ts";

export interface ServerOptions {
  /** Address to listen on: `127.0.0.1`, `::1`, `::` (every address, IPv4 and IPv6), a host name. */
  host?: string;
  /** TCP port; 0 picks a free one (RunningServer.port tells which). */
  port?: number;
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
   * Let other processes listen on the same port (SO_REUSEPORT, Linux): the kernel spreads new
   * connections across them. The server program's workers each set it.
   */
  reusePort?: boolean;
  events?: ServerEvents;
}

export const SERVER_DEFAULTS = {
  ...ENDPOINT_DEFAULTS,
  limits: DEFAULT_LIMITS,
  drainTimeoutMs: 5000,
  closeTimeoutMs: 5000,
  reusePort: false,
} as const satisfies Required<Omit<ServerOptions, "events">>;
