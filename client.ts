#!/usr/bin/env bun
// socket-lab client: entry point. Flags in, options out; the work is in src/client/.
import { type ArgsDef, defineCommand } from "citty";
import pkg from "./package.json" with { type: "json" };
import { commonArgs, parseBytes, parseFraming, parseLogLevel, parsePort, parseSeconds } from "./src/cli/args.ts";
import { collectRepeated } from "./src/cli/repeated.ts";
import { runCli } from "./src/cli/run.ts";

const clientArgs = {
  ...commonArgs,
  message: {
    type: "string",
    alias: "m",
    description: "Send this message (repeat for more); stdin is not read",
  },
  timeout: {
    type: "string",
    description: "Seconds to wait for the connection (0: as long as the system does)",
    default: "5",
  },
  "response-timeout": {
    type: "string",
    description: "Seconds without a reply, while replies are owed, before giving up (0: wait forever)",
    default: "60",
  },
  quiet: {
    type: "boolean",
    description: "Pipeline mode: no status lines or progress line on stderr (errors still shown)",
    default: false,
  },
  reconnect: {
    type: "boolean",
    description:
      "Pipeline mode only: when the connection is lost, connect again and resend every unacknowledged message, in order (each is delivered at least once)",
    default: false,
  },
  "reconnect-for": {
    type: "string",
    description: "With --reconnect: seconds the whole run may spend reconnecting before it fails (0: no limit)",
    default: "30",
  },
  "resend-buffer": {
    type: "string",
    description:
      "With --reconnect: most bytes of unacknowledged messages kept for resending; input waits while it is full",
    default: "16m",
  },
} as const satisfies ArgsDef;

export const clientCommand = defineCommand({
  meta: { name: "client", version: pkg.version, description: "socket-lab TCP message client" },
  args: clientArgs,
  // Subcommands and the program load only when they run: --help and --version start without them.
  subCommands: { bench: () => import("./src/bench/command.ts").then((module) => module.benchCommand) },
  run: async ({ args, rawArgs }) =>
    (await import("./src/client/main.ts")).runClientProgram({
      host: args.host,
      port: parsePort(args.port, { allowZero: false }),
      framing: parseFraming(args.framing),
      connectTimeoutMs: parseSeconds("timeout", args.timeout),
      responseTimeoutMs: parseSeconds("response-timeout", args["response-timeout"]),
      messages: collectRepeated(rawArgs, "message", "m"),
      json: args.json,
      quiet: args.quiet,
      logLevel: parseLogLevel(args["log-level"]),
      reconnect: args.reconnect
        ? {
            reconnectForMs: parseSeconds("reconnect-for", args["reconnect-for"]),
            resendBufferBytes: parseBytes("resend-buffer", args["resend-buffer"]),
          }
        : undefined,
    }),
});

if (import.meta.main) await runCli(clientCommand);
