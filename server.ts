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
  parseDeadline,
  parseFraming,
  parseHostPort,
  parseInteger,
  parseLogLevel,
  parseOctalMode,
  parsePort,
  parseSeconds,
  UsageError,
} from "./src/cli/args.ts";
import { SERVER_EXIT_CODES } from "./src/cli/exit-code-help.ts";
import { repeatedValues } from "./src/cli/flags.ts";
import { type HelpArgsDef, withHelp } from "./src/cli/help.ts";
import { parseListen, proxyProtocolFor, tlsFilesFor, workersFor } from "./src/cli/network-args.ts";
import { runCli } from "./src/cli/run.ts";
import { CidrError, parseCidr } from "./src/net/cidr.ts";
import { DEFAULT_MAX_HTTP_CONNECTIONS } from "./src/server/metrics/http-listener.ts";
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
  listen: {
    type: "string",
    valueHint: "ADDR",
    group: "listening",
    description:
      "Listen here instead of --host/--port; repeatable: HOST:PORT, [IPV6]:PORT, tls://HOST:PORT, unix:PATH, unix:@NAME",
  },
  "tls-cert": {
    type: "string",
    valueHint: "FILE",
    group: "listening",
    description: "PEM certificate (and chain) for tls:// listeners; SIGHUP re-reads it",
  },
  "tls-key": {
    type: "string",
    valueHint: "FILE",
    group: "listening",
    description: "PEM private key for tls:// listeners; SIGHUP re-reads it",
  },
  "tls-client-ca": {
    type: "string",
    valueHint: "FILE",
    group: "listening",
    description: "Serve only TLS clients with a certificate signed by this CA (mutual TLS)",
  },
  "tls-handshake-timeout": {
    type: "string",
    valueHint: "SECONDS",
    group: "limits",
    description: "How long a TLS client has to finish its handshake",
    default: formatSeconds(SERVER_DEFAULTS.tlsHandshakeTimeoutMs),
  },
  "unix-mode": {
    type: "string",
    valueHint: "OCTAL",
    group: "listening",
    description: "Permissions of Unix socket files",
    default: `0${SERVER_DEFAULTS.unixMode.toString(8)}`,
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
  "max-connections-per-address": {
    type: "string",
    valueHint: "N",
    group: "limits",
    description:
      "Connections one client address may hold at once; the next gets 'ERROR too many connections from your address' (0: no cap)",
    default: String(DEFAULT_LIMITS.maxConnectionsPerAddress),
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
  allow: {
    type: "string",
    valueHint: "CIDR",
    group: "access",
    description: "Serve only clients from this address or block, like 10.0.0.0/8 or ::1 (repeatable)",
  },
  deny: {
    type: "string",
    valueHint: "CIDR",
    group: "access",
    description: "Refuse clients from this address or block with 'ERROR access denied' (repeatable; wins over --allow)",
  },
  "proxy-protocol": {
    type: "boolean",
    group: "access",
    description:
      "Every TCP connection starts with a PROXY protocol header (v1 or v2, as HAProxy sends it) naming the client",
    default: SERVER_DEFAULTS.proxyProtocol,
  },
  "proxy-from": {
    type: "string",
    valueHint: "CIDR",
    group: "access",
    description: `Who may send a PROXY header (repeatable; default: ${SERVER_DEFAULTS.proxyFrom.join(" and ")})`,
  },
  "proxy-header-timeout": {
    type: "string",
    valueHint: "SECONDS",
    group: "access",
    description: "How long a trusted proxy has to send the whole PROXY header",
    default: formatSeconds(SERVER_DEFAULTS.proxyHeaderTimeoutMs),
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
  "metrics-max-connections": {
    type: "string",
    valueHint: "N",
    group: "metrics",
    description: "HTTP connections served at once; the next gets a 503 and is closed",
    default: String(DEFAULT_MAX_HTTP_CONNECTIONS),
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
    run: async ({ args, rawArgs }) => {
      const listen = parseListen(repeatedValues(rawArgs, serverArgs, "listen"));
      // `--host "$HOST"` with HOST unset. Python's bind takes "" as every address; a server that
      // opens itself to the network by accident is worse than one that asks.
      if (args.host === "" && listen.length === 0)
        throw new UsageError("--host needs an address (:: or 0.0.0.0 for every address)");
      return (await import("./src/server/main.ts")).runServerProgram({
        host: args.host,
        port: parsePort(args.port, { allowZero: true }),
        listen,
        tls: tlsFilesFor(listen, args),
        tlsHandshakeTimeoutMs: parseDeadline("tls-handshake-timeout", args["tls-handshake-timeout"]),
        unixMode: parseOctalMode("unix-mode", args["unix-mode"]),
        framing: parseFraming(args.framing),
        limits: {
          maxConnections: parseInteger("max-connections", args["max-connections"], 1),
          maxConnectionsPerAddress: parseInteger("max-connections-per-address", args["max-connections-per-address"]),
          maxMessageBytes: parseBytes("max-message-bytes", args["max-message-bytes"]),
          idleTimeoutMs: parseSeconds("idle-timeout", args["idle-timeout"]),
          maxOutputBytes: parseBytes("max-output-bytes", args["max-output-bytes"]),
        },
        drainTimeoutMs: parseSeconds("drain-timeout", args["drain-timeout"]),
        closeTimeoutMs: parseSeconds("close-timeout", args["close-timeout"]),
        allow: parseBlocks("allow", repeatedValues(rawArgs, serverArgs, "allow")),
        deny: parseBlocks("deny", repeatedValues(rawArgs, serverArgs, "deny")),
        proxyProtocol: proxyProtocolFor(listen, args["proxy-protocol"]),
        proxyFrom: parseProxyFrom(repeatedValues(rawArgs, serverArgs, "proxy-from"), args["proxy-protocol"]),
        proxyHeaderTimeoutMs: parseDeadline("proxy-header-timeout", args["proxy-header-timeout"]),
        workers: workersFor(listen, parseWorkers(args.workers)),
        json: args.json,
        quiet: args.quiet,
        logLevel: parseLogLevel(args["log-level"]),
        metrics:
          args.metrics === undefined
            ? undefined
            : {
                ...parseHostPort("metrics", args.metrics),
                maxConnections: parseInteger("metrics-max-connections", args["metrics-max-connections"], 1),
              },
        version: pkg.version,
      });
    },
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

/** Addresses and CIDR blocks, checked here so a bad one is a usage error that names its flag. */
function parseBlocks(flag: string, values: string[]): string[] {
  for (const value of values) {
    try {
      parseCidr(value);
    } catch (error) {
      if (error instanceof CidrError) throw new UsageError(`--${flag}: ${error.message}`);
      throw error;
    }
  }
  return values;
}

/** Undefined: the library's default (loopback). Without --proxy-protocol it would do nothing: say so. */
function parseProxyFrom(values: string[], proxyProtocol: boolean): string[] | undefined {
  if (values.length === 0) return undefined;
  if (!proxyProtocol) throw new UsageError("--proxy-from needs --proxy-protocol");
  return parseBlocks("proxy-from", values);
}

if (import.meta.main) await runCli(serverCommand);
