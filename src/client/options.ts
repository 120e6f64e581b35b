// The client's defaults in one place: the CLI renders CLIENT_DEFAULTS in --help and passes them
// on, so the flags and the library cannot drift apart. (Light on purpose: --help loads this file.)
import { ENDPOINT_DEFAULTS } from "../protocol/defaults.ts";
import type { ReconnectOptions } from "./reconnect.ts";
import type { SessionOptions } from "./session.ts";

export const CLIENT_DEFAULTS = {
  // Named one by one rather than spread: a one-shot's start runs this (one-shot.ts), and every
  // operation's first run there counts (BENCHMARKS.md, round sixteen). The type below says that
  // every endpoint default is here.
  host: ENDPOINT_DEFAULTS.host,
  port: ENDPOINT_DEFAULTS.port,
  framing: ENDPOINT_DEFAULTS.framing,
  connectTimeoutMs: 5000,
  responseTimeoutMs: 60_000,
  // With --reconnect:
  reconnectForMs: 30_000,
  resendBufferBytes: 16 * 1024 * 1024,
} as const satisfies SessionOptions &
  ReconnectOptions & { [Name in keyof typeof ENDPOINT_DEFAULTS]: (typeof ENDPOINT_DEFAULTS)[Name] };
