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
  UsageError,
} from "./src/cli/args.ts";
import { collectRepeated } from "./src/cli/repeated.ts";
import { runCli } from "./src/cli/run.ts";
import { CidrError, parseCidr } from "./src/net/cidr.ts";
import { SERVER_DEFAULTS } from "./src/server/options.ts";

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
  "max-connections-per-address": {
    type: "string",
    description:
      "Connections one client address may hold at once; the next gets 'ERROR too many connections from your address' (0: no cap)",
    default: String(DEFAULT_LIMITS.maxConnectionsPerAddress),
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
  allow: {
    type: "string",
    description: "Serve only clients from this address or CIDR block, like 10.0.0.0/8 or ::1 (repeatable)",
  },
  deny: {
    type: "string",
    description:
      "Refuse clients from this address or CIDR block with 'ERROR access denied' (repeatable; wins over --allow)",
  },
  "proxy-protocol": {
    type: "boolean",
    description:
      "Every TCP connection starts with a PROXY protocol header (v1 or v2, as HAProxy sends it) naming the client",
    default: SERVER_DEFAULTS.proxyProtocol,
  },
  "proxy-from": {
    type: "string",
    description: `Who may send a PROXY header: an address or CIDR block (repeatable; default ${SERVER_DEFAULTS.proxyFrom.join(" and ")})`,
  },
  "proxy-header-timeout": {
    type: "string",
    description: "Seconds a trusted proxy has to send the whole PROXY header",
    default: seconds(SERVER_DEFAULTS.proxyHeaderTimeoutMs),
  },
  quiet: { type: "boolean", description: "No per-message lines on stdout", default: false },
} as const satisfies ArgsDef;

export const serverCommand = defineCommand({
  meta: { name: "server", version: pkg.version, description: "socket-lab TCP message server" },
  args: serverArgs,
  // The program loads only when it runs: --help and --version start without it.
  run: async ({ args, rawArgs }) =>
    (await import("./src/server/main.ts")).runServerProgram({
      host: args.host,
      port: parsePort(args.port, { allowZero: true }),
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
      allow: parseBlocks("allow", collectRepeated(rawArgs, "allow")),
      deny: parseBlocks("deny", collectRepeated(rawArgs, "deny")),
      proxyProtocol: args["proxy-protocol"],
      proxyFrom: parseProxyFrom(collectRepeated(rawArgs, "proxy-from"), args["proxy-protocol"]),
      proxyHeaderTimeoutMs: parsePositiveSeconds("proxy-header-timeout", args["proxy-header-timeout"]),
      json: args.json,
      quiet: args.quiet,
      logLevel: parseLogLevel(args["log-level"]),
    }),
});

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

/** A timeout that must end: 0 would mean "wait forever", which a client could use to hold a socket. */
function parsePositiveSeconds(flag: string, value: string): number {
  const ms = parseSeconds(flag, value);
  if (ms === 0) throw new UsageError(`--${flag} must be more than 0 seconds`);
  return ms;
}

if (import.meta.main) await runCli(serverCommand);
