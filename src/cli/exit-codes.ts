// Exit codes: the numbers a run ends with, by name. What each means, as --help shows it, is in
// exit-code-help.ts (the README's "Exit codes" says the same at more length): adding a code is a
// name here and its line there, and the type of that table refuses one without the other. They are
// two modules so that a start which only exits with a code (a one-shot, one-shot.ts) does not
// build the help's tables: every operation a one-shot's start runs the first time counts
// (BENCHMARKS.md, round sixteen). Codes both programs use keep one number (ExitCode); only what
// they mean differs between the programs.

export const ExitCode = {
  ok: 0,
  /** Anything else: address in use, permission denied, a stdout that fails. */
  failure: 1,
  usage: 2,
  /** The shell's convention for SIGINT: a second Ctrl+C (server), Ctrl+C in a pipeline (client). */
  interrupted: 130,
  /** The shell's convention for SIGPIPE: stdout's reader went away. */
  brokenPipe: 141,
} as const;

/** The client's codes by name: `ClientExit.refused` is 3. */
export const ClientExit = {
  ok: ExitCode.ok,
  failure: ExitCode.failure,
  usage: ExitCode.usage,
  refused: 3,
  timeout: 4,
  lost: 5,
  tls: 6,
  interrupted: ExitCode.interrupted,
  brokenPipe: ExitCode.brokenPipe,
} as const;
