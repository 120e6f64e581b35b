#!/usr/bin/env bun
// socket-lab server: entry point. Flags in, options out; the work is in src/server/.
import { type ArgsDef, defineCommand } from "citty";
import pkg from "./package.json" with { type: "json" };
import {
  commonArgs,
  parseBytes,
  parseFraming,
  parseInteger,
  parseLogLevel,
  parsePort,
  parseSeconds,
} from "./src/cli/args.ts";
import { runCli } from "./src/cli/run.ts";
import { SERVER_DEFAULTS } from "./src/server/options.ts";
import { parseWorkers } from "./src/server/workers/count.ts";

const { limits: DEFAULT_LIMITS } = SERVER_DEFAULTS;
const seconds = (ms: number) => String(ms / 1000);

const serverArgs = {
  ...commonArgs,
  "max-connections": {
    type: "string",
    description:
      "Clients served at once; the next one gets 'ERROR server is full' (lowered to fit the open-file limit)",
    default: String(DEFAULT_LIMITS.maxConnections),
  },
  "max-message-bytes": {
    type: "string",
    description: "Longest message accepted (bytes; k and m suffixes)",
    default: String(DEFAULT_LIMITS.maxMessageBytes),
  },
  "idle-timeout": {
    type: "string",
    description: "Close a client after this many seconds without input (0: never)",
    default: seconds(DEFAULT_LIMITS.idleTimeoutMs),
  },
  "max-output-bytes": {
    type: "string",
    description: "Unsent replies kept for a client that does not read before the server stops reading from it",
    default: String(DEFAULT_LIMITS.maxOutputBytes),
  },
  "drain-timeout": {
    type: "string",
    description: "Seconds to wait for clients on shutdown",
    default: seconds(SERVER_DEFAULTS.drainTimeoutMs),
  },
  "close-timeout": {
    type: "string",
    description: "Seconds a closing client may go without reading its last replies or hanging up",
    default: seconds(SERVER_DEFAULTS.closeTimeoutMs),
  },
  workers: {
    type: "string",
    description:
      "Processes serving the port (auto: one per CPU); above 1, the one started supervises them (Linux; not with unix: listeners)",
    default: "1",
  },
  quiet: { type: "boolean", description: "No per-message lines on stdout", default: false },
} as const satisfies ArgsDef;

export const serverCommand = defineCommand({
  meta: { name: "server", version: pkg.version, description: "socket-lab TCP message server" },
  args: serverArgs,
  // The program loads only when it runs: --help and --version start without it.
  run: async ({ args }) =>
    (await import("./src/server/main.ts")).runServerProgram({
      host: args.host,
      port: parsePort(args.port, { allowZero: true }),
      framing: parseFraming(args.framing),
      limits: {
        maxConnections: parseInteger("max-connections", args["max-connections"], 1),
        maxMessageBytes: parseBytes("max-message-bytes", args["max-message-bytes"]),
        idleTimeoutMs: parseSeconds("idle-timeout", args["idle-timeout"]),
        maxOutputBytes: parseBytes("max-output-bytes", args["max-output-bytes"]),
      },
      drainTimeoutMs: parseSeconds("drain-timeout", args["drain-timeout"]),
      closeTimeoutMs: parseSeconds("close-timeout", args["close-timeout"]),
      workers: parseWorkers(args.workers),
      json: args.json,
      quiet: args.quiet,
      logLevel: parseLogLevel(args["log-level"]),
    }),
});

if (import.meta.main) await runCli(serverCommand);
