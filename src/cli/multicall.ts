#!/usr/bin/env bun
// socket-lab: the one binary a release ships. `socket-lab server ...` and `socket-lab client ...`
// (with `client bench`) run those programs; invoked under the name `server` or `client` (a link
// or a copy of the binary), it is that program directly, as busybox is `ls` when called `ls`.
// The client starts as client.ts starts it (client-entry.ts: a one-shot loads only its own small
// program). The server is import()ed (server-cli.ts), bundled apart: its chunks hold the built-ins
// only it uses (node:fs, os, net, dns, crypto), which would slow every client start, and none of
// its code is in a chunk the client's start loads.

import { runClientCli } from "./client-entry.ts";
import { ExitCode } from "./exit-codes.ts";

export const PROGRAMS = ["server", "client"] as const;
export type ProgramName = (typeof PROGRAMS)[number];

/**
 * Which program a command line asks for: the name the binary was invoked under (argv0: a
 * compiled binary's argv[1] is its embedded entry, not the link's name), else the first argument.
 */
export function pickProgram(argv0: string, args: string[]): { program?: ProgramName; args: string[] } {
  // Both separators: a Windows path has backslashes, which node:path on POSIX does not split.
  // String searches, not a regular expression: the first one run costs a one-shot its compile.
  const base = argv0.slice(Math.max(argv0.lastIndexOf("/"), argv0.lastIndexOf("\\")) + 1);
  const lower = base.toLowerCase();
  const invokedAs = lower.endsWith(".exe") || lower.endsWith(".cmd") ? base.slice(0, -4) : base;
  if ((PROGRAMS as readonly string[]).includes(invokedAs)) return { program: invokedAs as ProgramName, args };
  const [first, ...rest] = args;
  if ((PROGRAMS as readonly string[]).includes(first ?? "")) return { program: first as ProgramName, args: rest };
  return { args };
}

const usage = (version: string) => `socket-lab ${version}: a TCP message server and its client

USAGE
  socket-lab server [OPTIONS]     listen and acknowledge every message
  socket-lab client [OPTIONS]     send messages (stdin or -m) and print the acks
  socket-lab client bench ...     load generator

  Invoked as 'server' or 'client' (a link or a copy), it is that program.
  socket-lab server --help and socket-lab client --help list the options.
`;

async function main(): Promise<never> {
  const { program, args } = pickProgram(process.argv0, process.argv.slice(2));
  // The CLI runner (flags, help) is the server's to load: a client one-shot never needs it.
  if (program === "server") return (await import("./server-cli.ts")).runServerCli(args);
  if (program === "client") return runClientCli(args);
  const [first] = args;
  // The version (package.json) is loaded only here: `socket-lab client -m hi` does not pay for it.
  const { VERSION, printVersion } = await import("./version.ts");
  if (first === "--version" || first === "-v") return printVersion();
  if (first === "--help" || first === "-h")
    return (await import("../output/sink.ts")).printAndExit(usage(VERSION).trimEnd());
  process.stderr.write(
    first === undefined
      ? usage(VERSION)
      : `socket-lab: unknown program '${first}' (server or client)\nRun with --help for usage.\n`,
  );
  process.exit(ExitCode.usage);
}

if (import.meta.main) await main();
