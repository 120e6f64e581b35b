// How a client run ends: the exit code and the one line that says why (spec, "client").
import { ClientExit } from "../cli/exit-codes.ts";
import type { ConnectFailure } from "../net/connect.ts";
import { escapeForTerminal } from "../output/escape.ts";
import type { LinkEnd } from "./link.ts";

export interface Outcome {
  exitCode: number;
  /** An error line for stderr, if the run failed. */
  error?: string;
}

export function connectFailureOutcome(failure: ConnectFailure): Outcome {
  switch (failure.kind) {
    case "refused":
      return { exitCode: ClientExit.refused, error: "[REFUSED] Connection refused. Make sure the server is running." };
    case "timeout":
      return { exitCode: ClientExit.timeout, error: "[TIMEOUT] Connection attempt timed out. Is the server running?" };
    case "reset":
      return { exitCode: ClientExit.lost, error: "[ERROR] Connection was reset by the server" };
    case "error":
      return { exitCode: ClientExit.failure, error: `[ERROR] ${failure.error.message}` };
  }
}

/** Counts of one session, for the "how many went unacknowledged" part of a failure. */
export interface Tally {
  sent: number;
  acknowledged: number;
}

export function lossSuffix({ sent, acknowledged }: Tally): string {
  const owed = sent - acknowledged;
  return ` (${owed} of ${sent} message${sent === 1 ? "" : "s"} unacknowledged)`;
}

/** The server went away on its own. */
export function linkEndOutcome(how: LinkEnd, tally: Tally): Outcome {
  const reason =
    how.kind === "reset"
      ? "Connection was reset by the server"
      : how.kind === "closed"
        ? "Server closed the connection"
        : how.kind === "reply-too-long"
          ? `Reply from server longer than ${how.limit} bytes`
          : how.error.message;
  return { exitCode: ClientExit.lost, error: `[ERROR] ${reason}${lossSuffix(tally)}` };
}

/** The server sent `ERROR <text>`: it closes the connection after a notice. */
export function noticeOutcome(text: string, tally: Tally): Outcome {
  return { exitCode: ClientExit.lost, error: `[ERROR] ${escapeForTerminal(text)}${lossSuffix(tally)}` };
}

export function unexpectedReplyOutcome(text: string, tally: Tally): Outcome {
  const shown = escapeForTerminal(text.length > 200 ? `${text.slice(0, 200)}...` : text);
  return { exitCode: ClientExit.lost, error: `[ERROR] Unexpected reply from server: '${shown}'${lossSuffix(tally)}` };
}

export function responseTimeoutOutcome(timeoutMs: number, tally: Tally): Outcome {
  return {
    exitCode: ClientExit.lost,
    error: `[ERROR] No response from server for ${timeoutMs / 1000} s${lossSuffix(tally)}`,
  };
}
