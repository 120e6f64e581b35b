// Exit codes (README, "Exit codes"): those both programs share, and the client's own, built on them.
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

export const ClientExit = {
  ...ExitCode,
  /** The connection was refused: no server at that address. */
  refused: 3,
  /** The connection attempt timed out (--timeout). */
  timeout: 4,
  /** The connection ended before every message was acknowledged. */
  lost: 5,
  /** TLS failed: the server's certificate was not trusted, or the handshake failed. */
  tls: 6,
} as const;
