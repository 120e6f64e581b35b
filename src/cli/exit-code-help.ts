// What each exit code means, one table per program, for the EXIT CODES section of --help (help.ts).
// The numbers are exit-codes.ts's; the client's table has exactly ClientExit's names, each with
// its code (its type says so), so that a code cannot be added to one and not the other.
import { ClientExit, ExitCode } from "./exit-codes.ts";

export interface ExitCodeEntry {
  code: number;
  /** One short sentence for --help (it is wrapped to fit 80 columns). */
  meaning: string;
}

export type ExitCodeTable = Readonly<Record<string, ExitCodeEntry>>;

/** The same for every program: the command line could not be read (args.ts, citty). */
const USAGE_ERROR = { code: ExitCode.usage, meaning: "Usage error: an unknown flag or a bad value" } as const;

export const SERVER_EXIT_CODES = {
  ok: { code: ExitCode.ok, meaning: "Clean shutdown (SIGINT or SIGTERM)" },
  failure: { code: ExitCode.failure, meaning: "Runtime error: address in use, permission denied" },
  usage: USAGE_ERROR,
  interrupted: { code: ExitCode.interrupted, meaning: "A second Ctrl+C: stopped without draining" },
} as const satisfies ExitCodeTable;

export const CLIENT_EXIT_CODES = {
  ok: { code: ClientExit.ok, meaning: "Every message acknowledged (or quit by request)" },
  failure: { code: ClientExit.failure, meaning: "Anything else, such as a stdout that cannot be written" },
  usage: USAGE_ERROR,
  refused: { code: ClientExit.refused, meaning: "Connection refused: is the server running?" },
  timeout: { code: ClientExit.timeout, meaning: "Connection attempt timed out (--timeout)" },
  lost: {
    code: ClientExit.lost,
    meaning:
      "The connection ended before every message was acknowledged: reset, closed, a server notice, or no reply within --response-timeout",
  },
  tls: {
    code: ClientExit.tls,
    meaning:
      "TLS failed: the server's certificate is not trusted, is for another name or has expired; the server wants a client certificate; or the handshake failed",
  },
  interrupted: { code: ClientExit.interrupted, meaning: "Ctrl+C or SIGTERM in a pipeline" },
  brokenPipe: { code: ClientExit.brokenPipe, meaning: "Stdout's reader went away (client | head -1)" },
} as const satisfies {
  readonly [Name in keyof typeof ClientExit]: { code: (typeof ClientExit)[Name]; meaning: string };
};

export const BENCH_EXIT_CODES = {
  ok: { code: ExitCode.ok, meaning: "The run ended without errors" },
  failure: { code: ExitCode.failure, meaning: "Errors: refused, TLS failures, reset, closed early, or no reply" },
  usage: USAGE_ERROR,
  interrupted: { code: ExitCode.interrupted, meaning: "Interrupted (Ctrl+C): the summary is of the run until then" },
} as const satisfies ExitCodeTable;
