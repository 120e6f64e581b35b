// Exit codes both programs share (README, "Exit codes"); the client's own are in
// src/client/outcome.ts (ClientExit), built on these.
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
