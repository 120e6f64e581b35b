// socket-lab as a library: the same server the `server` program runs, for your own programs and
// tests. Everything not exported here (or by socket-lab/metrics) is internal and may change.
//
//   import { startServer } from "socket-lab";
//   await using server = startServer({ host: "127.0.0.1", port: 0 });
//   // ... connect to server.port; the server drains and stops at the end of the scope.
//
// Metrics over HTTP are a separate entry point, `socket-lab/metrics` (startMetricsServer, fed with
// server.snapshot()), so that a program that does not serve them does not load prom-client.

export { CidrError } from "./net/cidr.ts";
export { ackFor, type Framing, NOTICE_PREFIX } from "./protocol/messages.ts";
export type { RejectionReason } from "./server/admission.ts";
export type { LimitKind, ServerEvents, ServerSnapshot, ServerStats } from "./server/events.ts";
export { DEFAULT_LIMITS, type ServerLimits } from "./server/limits.ts";
export { LISTEN_SYNTAX, ListenAddressError, parseListenAddress } from "./server/listeners/address.ts";
export {
  describeAddress,
  ListenError,
  type ListenerAddress,
  type NetworkAddress,
  type Transport,
  type UnixAddress,
} from "./server/listeners/listener.ts";
export type { TlsFiles } from "./server/listeners/tls-credentials.ts";
export { SERVER_DEFAULTS, type ServerOptions } from "./server/options.ts";
export { type RunningServer, startServer, type TlsReload } from "./server/server.ts";
