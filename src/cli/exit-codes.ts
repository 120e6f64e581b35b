// Exit codes, one table per program: the code a run ends with and the line its --help shows for it
// (the README's "Exit codes" says the same at more length). Adding a code is one entry in its
// program's table: the named constant (ClientExit.refused, ...) and the EXIT CODES section of
// --help both come from it. Codes both programs use keep one number (ExitCode); only what they
// mean differs between the programs.

export interface ExitCodeEntry {
  code: number;
  /** One short sentence for --help (it is wrapped to fit 80 columns). */
  meaning: string;
}

export type ExitCodeTable = Readonly<Record<string, ExitCodeEntry>>;

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

export const SERVER_EXIT_CODES = {
  ok: { code: ExitCode.ok, meaning: "Clean shutdown (SIGINT or SIGTERM)" },
  failure: { code: ExitCode.failure, meaning: "Runtime error: address in use, permission denied" },
  usage: { code: ExitCode.usage, meaning: "Usage error: an unknown flag or a bad value" },
  interrupted: { code: ExitCode.interrupted, meaning: "A second Ctrl+C: stopped without draining" },
} as const satisfies ExitCodeTable;

export const CLIENT_EXIT_CODES = {
  ok: { code: ExitCode.ok, meaning: "Every message acknowledged (or quit by request)" },
  failure: { code: ExitCode.failure, meaning: "Anything else, such as a stdout that cannot be written" },
  usage: { code: ExitCode.usage, meaning: "Usage error: an unknown flag or a bad value" },
  refused: { code: 3, meaning: "Connection refused: is the server running?" },
  timeout: { code: 4, meaning: "Connection attempt timed out (--timeout)" },
  lost: {
    code: 5,
    meaning:
      "The connection ended before every message was acknowledged: reset, closed, a server notice, or no reply within --response-timeout",
  },
  tls: {
    code: 6,
    meaning:
      "TLS failed: the server's certificate is not trusted, is for another name or has expired; the server wants a client certificate; or the handshake failed",
  },
  interrupted: { code: ExitCode.interrupted, meaning: "Ctrl+C or SIGTERM in a pipeline" },
  brokenPipe: { code: ExitCode.brokenPipe, meaning: "Stdout's reader went away (client | head -1)" },
} as const satisfies ExitCodeTable;

export const BENCH_EXIT_CODES = {
  ok: { code: ExitCode.ok, meaning: "The run ended without errors" },
  failure: { code: ExitCode.failure, meaning: "Errors: refused, TLS failures, reset, closed early, or no reply" },
  usage: { code: ExitCode.usage, meaning: "Usage error: an unknown flag or a bad value" },
  interrupted: { code: ExitCode.interrupted, meaning: "Interrupted (Ctrl+C): the summary is of the run until then" },
} as const satisfies ExitCodeTable;

/** The client's codes by name: `ClientExit.refused` is 3. */
export const ClientExit = codesOf(CLIENT_EXIT_CODES);

function codesOf<Table extends ExitCodeTable>(table: Table): { readonly [Name in keyof Table]: Table[Name]["code"] } {
  // A plain loop: Object.fromEntries/entries and Array.map, first used here at start-up, cost a
  // one-shot `client -m hi` 0.35 ms of compiling Bun's built-ins.
  const codes: Record<string, number> = {};
  for (const name in table) codes[name] = table[name]!.code;
  return codes as { [Name in keyof Table]: Table[Name]["code"] };
}
