#!/usr/bin/env bun
// socket-lab client: entry point. Flags in, options out; the work is in src/client/.
import { type ArgsDef, defineCommand } from "citty";
import pkg from "./package.json" with { type: "json" };
import { commonArgs, parseFraming, parseLogLevel, parseSeconds } from "./src/cli/args.ts";
import { connectArgs, parseConnectFlags } from "./src/cli/connect-args.ts";
import { collectRepeated } from "./src/cli/repeated.ts";
import { runCli } from "./src/cli/run.ts";

const clientArgs = {
  ...commonArgs,
  ...connectArgs,
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
    description: "Pipeline mode: no status lines on stderr (errors still shown)",
    default: false,
  },
} as const satisfies ArgsDef;

export const clientCommand = defineCommand({
  meta: { name: "client", version: pkg.version, description: "socket-lab TCP message client" },
  args: clientArgs,
  // Subcommands and the program load only when they run: --help and --version start without them.
  subCommands: { bench: () => import("./src/bench/command.ts").then((module) => module.benchCommand) },
  run: async ({ args, rawArgs }) =>
    (await import("./src/client/main.ts")).runClientProgram({
      ...parseConnectFlags(args),
      framing: parseFraming(args.framing),
      connectTimeoutMs: parseSeconds("timeout", args.timeout),
      responseTimeoutMs: parseSeconds("response-timeout", args["response-timeout"]),
      messages: collectRepeated(rawArgs, "message", "m"),
      json: args.json,
      quiet: args.quiet,
      logLevel: parseLogLevel(args["log-level"]),
    }),
});

if (import.meta.main) await runCli(clientCommand);
