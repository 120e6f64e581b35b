// How a supervisor starts a worker: the same program, with the same arguments, again. Run from
// source that is `bun server.ts ...` (argv[1] is the script); a compiled binary is its own runtime
// and argv[1] is its embedded entry (`/$bunfs/root/...`), which must not be passed back to it.
// argv0 travels too: the multi-call binary picks its program by the name it was invoked under.

/** Where a compiled binary's embedded entry lives on Linux (the only platform with workers). */
const EMBEDDED_ENTRY_PREFIX = "/$bunfs/";

export interface WorkerCommand {
  cmd: string[];
  argv0: string;
}

export function workerCommand(argv: readonly string[] = process.argv): WorkerCommand {
  const [, entry = "", ...args] = argv;
  const compiled = entry.startsWith(EMBEDDED_ENTRY_PREFIX);
  return {
    cmd: compiled ? [process.execPath, ...args] : [process.execPath, ...process.execArgv, entry, ...args],
    argv0: process.argv0,
  };
}
