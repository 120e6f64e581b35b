// Where and how the server and the client meet unless told otherwise: the server listens here and
// the client (and its load generator) connects here, so all three take these from one object.
import type { Framing } from "./messages.ts";

export const ENDPOINT_DEFAULTS = {
  host: "127.0.0.1",
  port: 12345,
  framing: "line",
} as const satisfies { host: string; port: number; framing: Framing };
