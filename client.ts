#!/usr/bin/env bun
// socket-lab client: entry point. The command line is in src/client/cli.ts, the work in
// src/client/; src/cli/client-entry.ts picks between the one-shot and the whole program.
import { runClientCli } from "./src/cli/client-entry.ts";

if (import.meta.main) await runClientCli(process.argv.slice(2));
