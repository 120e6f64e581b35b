// The client's command line: its flags, turned into the options of the program (main.ts). Loaded
// for every command line but a one-shot (one-shot.ts; the entry point, client.ts, picks).
import { defineCommand } from "citty";
import pkg from "../../package.json" with { type: "json" };
import {
  connectArgs,
  formatBytes,
  formatSeconds,
  logLevelArg,
  parseBytes,
  parseFraming,
  parseLogLevel,
  parseSeconds,
  UsageError,
} from "../cli/args.ts";
import { clientNetworkArgs, parseClientNetworkFlags } from "../cli/client-network-args.ts";
import { CLIENT_EXIT_CODES } from "../cli/exit-code-help.ts";
import { repeatedValues } from "../cli/flags.ts";
import { type HelpArgsDef, withHelp } from "../cli/help.ts";
import { runCli } from "../cli/run.ts";
import { CLIENT_DEFAULTS } from "./options.ts";
import type { ReconnectOptions } from "./reconnect.ts";

// Each flag's `group` is the --help section that lists it (src/cli/help.ts, HELP_GROUPS).
const clientArgs = {
  ...connectArgs(CLIENT_DEFAULTS),
  ...clientNetworkArgs,
  timeout: {
    type: "string",
    valueHint: "SECONDS",
    group: "connection",
    description: "How long to wait for the connection (0: as long as the system does)",
    default: formatSeconds(CLIENT_DEFAULTS.connectTimeoutMs),
  },
  "response-timeout": {
    type: "string",
    valueHint: "SECONDS",
    group: "connection",
    description: "How long the server may stay silent while replies are owed before the run fails (0: for ever)",
    default: formatSeconds(CLIENT_DEFAULTS.responseTimeoutMs),
  },
  message: {
    type: "string",
    alias: "m",
    valueHint: "TEXT",
    group: "input",
    description: "Send this message (repeat for more); stdin is not read",
  },
  json: {
    type: "boolean",
    group: "output",
    description: 'One JSON object per reply {"message","response","rtt_ms"}; status as JSON lines',
    default: false,
  },
  quiet: {
    type: "boolean",
    group: "output",
    description: "No status lines or progress line on stderr when not interactive (errors are still shown)",
    default: false,
  },
  reconnect: {
    type: "boolean",
    group: "connection",
    description:
      "Pipelines only: when the connection is lost, connect again and resend every unacknowledged message, in order (each arrives at least once)",
    default: false,
  },
  "reconnect-for": {
    type: "string",
    valueHint: "SECONDS",
    group: "connection",
    description: "With --reconnect: how long the whole run may spend reconnecting before it fails (0: no limit)",
    default: formatSeconds(CLIENT_DEFAULTS.reconnectForMs),
  },
  "resend-buffer": {
    type: "string",
    valueHint: "BYTES",
    group: "connection",
    description: "With --reconnect: most bytes of unacknowledged messages kept to resend; input waits while it is full",
    default: formatBytes(CLIENT_DEFAULTS.resendBufferBytes),
  },
  "log-level": logLevelArg,
} as const satisfies HelpArgsDef;

export const clientCommand = withHelp(
  defineCommand({
    meta: {
      name: "client",
      version: pkg.version,
      description: "socket-lab TCP message client: sends lines (stdin or -m), prints each reply.",
    },
    args: clientArgs,
    // The program's modules are static imports: they are what every run of it needs. The bench
    // subcommand is import()ed: binaries are built with code splitting (scripts/compile.ts), so it
    // is a chunk of its own that a plain run never loads. (Without splitting, import() wraps every
    // module in a lazy initializer, and their calls at start wake the JIT: docs/bun-notes.md.)
    subCommands: { bench: () => import("../bench/command.ts").then((module) => module.benchCommand) },
    // The program itself is import()ed too: --help needs only the flags.
    run: async ({ args, rawArgs }) =>
      (await import("./main.ts")).runClientProgram({
        ...parseClientNetworkFlags(args),
        framing: parseFraming(args.framing),
        connectTimeoutMs: parseSeconds("timeout", args.timeout),
        responseTimeoutMs: parseSeconds("response-timeout", args["response-timeout"]),
        messages: repeatedValues(rawArgs, clientArgs, "message"),
        json: args.json,
        quiet: args.quiet,
        logLevel: parseLogLevel(args["log-level"]),
        reconnect: reconnectOptions(args, rawArgs),
      }),
  }),
  {
    examples: [
      { does: "On a terminal: the tutorial's interactive session, one message at a time.", command: "client" },
      {
        does: "Send 100,000 lines, pipelined; print the last reply (exit 0: all acknowledged).",
        command: "seq 1 100000 | client --quiet | tail -1",
      },
      { does: "Send two messages without reading stdin.", command: "client -m hello -m world" },
      { does: "50 connections for 5 seconds: messages/s and latency.", command: "client bench -c 50 -d 5" },
    ],
    exitCodes: CLIENT_EXIT_CODES,
  },
);

/** --reconnect's settings; without it, its flags would do nothing, so they are a usage error. */
function reconnectOptions(
  args: { reconnect: boolean; "reconnect-for": string; "resend-buffer": string },
  rawArgs: string[],
): ReconnectOptions | undefined {
  if (!args.reconnect) {
    for (const flag of ["reconnect-for", "resend-buffer"] as const)
      if (repeatedValues(rawArgs, clientArgs, flag).length > 0) throw new UsageError(`--${flag} needs --reconnect`);
    return undefined;
  }
  return {
    reconnectForMs: parseSeconds("reconnect-for", args["reconnect-for"]),
    resendBufferBytes: parseBytes("resend-buffer", args["resend-buffer"]),
  };
}

/** The whole program, for any command line but a one-shot's (client-entry.ts). */
export function runClientCommand(args: string[]): Promise<never> {
  return runCli(clientCommand, args);
}
