#!/usr/bin/env bun
// socket-lab server: entry point. Flags in, options out; the work is in src/server/.
import { defineCommand } from "citty";
import pkg from "./package.json" with { type: "json" };
import {
  formatBytes,
  formatSeconds,
  framingArg,
  logLevelArg,
  parseBytes,
  parseFraming,
  parseHostPort,
  parseInteger,
  parseLogLevel,
  parsePort,
  parseSeconds,
} from "./src/cli/args.ts";
import { SERVER_EXIT_CODES } from "./src/cli/exit-codes.ts";
import { type HelpArgsDef, withHelp } from "./src/cli/help.ts";
import { runCli } from "./src/cli/run.ts";
import { SERVER_DEFAULTS } from "./src/server/options.ts";
import { DEFAULT_WORKERS, parseWorkers } from "./src/server/workers/count.ts";

const { limits: DEFAULT_LIMITS } = SERVER_DEFAULTS;

// Each flag's `group` is the --help section that lists it (src/cli/help.ts, HELP_GROUPS).
const serverArgs = {
  host: {
    type: "string",
    valueHint: "HOST",
    group: "listening",
    description: "Address to listen on: 127.0.0.1, ::1, :: (every address, IPv4 and IPv6), a host name",
    default: SERVER_DEFAULTS.host,
  },
  port: {
    type: "string",
    valueHint: "PORT",
    group: "listening",
    description: "TCP port to listen on; 0 picks a free one (the STARTING line says which)",
    default: String(SERVER_DEFAULTS.port),
  },
  framing: framingArg(SERVER_DEFAULTS.framing, "listening"),
  "max-connections": {
    type: "string",
    valueHint: "N",
    group: "limits",
    description:
      "Clients served at once; the next one gets 'ERROR server is full' (lowered to fit the open-file limit)",
    default: String(DEFAULT_LIMITS.maxConnections),
  },
  "max-message-bytes": {
    type: "string",
    valueHint: "BYTES",
    group: "limits",
    description: "Longest message accepted (k and m suffixes)",
    default: formatBytes(DEFAULT_LIMITS.maxMessageBytes),
  },
  "idle-timeout": {
    type: "string",
    valueHint: "SECONDS",
    group: "limits",
    description: "Close a client after this long without input (0: never)",
    default: formatSeconds(DEFAULT_LIMITS.idleTimeoutMs),
  },
  "max-output-bytes": {
    type: "string",
    valueHint: "BYTES",
    group: "limits",
    description: "Unsent replies kept for a client that does not read; past this the server stops reading from it",
    default: formatBytes(DEFAULT_LIMITS.maxOutputBytes),
  },
  "drain-timeout": {
    type: "string",
    valueHint: "SECONDS",
    group: "shutdown",
    description: "How long to wait for clients to finish on SIGINT or SIGTERM",
    default: formatSeconds(SERVER_DEFAULTS.drainTimeoutMs),
  },
  "close-timeout": {
    type: "string",
    valueHint: "SECONDS",
    group: "shutdown",
    description: "How long a closing client may go without reading its last replies or hanging up",
    default: formatSeconds(SERVER_DEFAULTS.closeTimeoutMs),
  },
  workers: {
    type: "string",
    valueHint: "N|auto",
    group: "listening",
    description:
      "Processes serving the port (auto: one per CPU); above 1, the one started supervises them (Linux; not with unix: listeners)",
    default: String(DEFAULT_WORKERS),
  },
  json: {
    type: "boolean",
    group: "output",
    description: "Events as JSON lines (messages on stdout, the rest on stderr)",
    default: false,
  },
  quiet: { type: "boolean", group: "output", description: "No per-message lines on stdout", default: false },
  "log-level": logLevelArg,
  metrics: {
    type: "string",
    valueHint: "HOST:PORT",
    group: "metrics",
    description: "Serve Prometheus metrics (/metrics) and a health check (/healthz) over HTTP on HOST:PORT",
  },
} as const satisfies HelpArgsDef;

export const serverCommand = withHelp(
  defineCommand({
    meta: {
      name: "server",
      version: pkg.version,
      description: "socket-lab TCP message server: acknowledges every message and logs it on stdout.",
    },
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
        metrics: args.metrics === undefined ? undefined : parseHostPort("metrics", args.metrics),
        version: pkg.version,
      }),
  }),
  {
    examples: [
      { does: "Listen on any free port; the STARTING line on stderr says which.", command: "server --port 0" },
      {
        does: "Every address (IPv4 and IPv6), at most 100 clients, each dropped after a minute of silence.",
        command: "server --host :: --max-connections 100 --idle-timeout 60",
      },
      {
        does: "No per-message lines; the lifecycle as JSON lines in a file.",
        command: "server --quiet --json 2> events.jsonl",
      },
      { does: "The tutorial's own protocol: its client.py works unchanged.", command: "server --framing raw" },
    ],
    exitCodes: SERVER_EXIT_CODES,
  },
);

if (import.meta.main) await runCli(serverCommand);
