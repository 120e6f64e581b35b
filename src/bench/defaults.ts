// `client bench`'s defaults in one place: runBench applies them and `client bench --help` shows
// them. (Light on purpose: --help loads this file, not the generator.)
//
// The two timeouts differ from the client's (CLIENT_DEFAULTS: 5 s to connect, 60 s for a reply) on
// purpose. A load generator opens many connections at once, and a server busy accepting them (or
// dropping SYNs past its listen backlog, which the kernel retries after 1 and 3 s) is slow to
// accept each: it waits longer to connect. And once the run is going, 10 s without a single reply
// on any connection is a broken server, not a slow one: waiting a minute would only hide that.
import { ENDPOINT_DEFAULTS } from "../protocol/defaults.ts";
import type { BenchOptions } from "./generator.ts";

/** The most messages in flight on one connection (--pipeline). */
export const MAX_PIPELINE = 65_536;
/** The most bytes of one batch (--pipeline messages, one write), which each connection may hold. */
export const MAX_BATCH_BYTES = 16 * 1024 * 1024;

export const BENCH_DEFAULTS = {
  ...ENDPOINT_DEFAULTS,
  connections: 50,
  durationMs: 5000,
  pipeline: 1,
  message: "ping",
  connectTimeoutMs: 10_000,
  responseTimeoutMs: 10_000,
  sendProxyHeader: false,
} as const satisfies Omit<
  Required<BenchOptions>,
  "requests" | "onProgress" | "histogram" | "unix" | "tls" | "onConnectFailure" | "onNotice" | "signal"
>;
