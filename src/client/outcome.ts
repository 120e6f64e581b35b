// How a client run ends: the exit code and the one line that says why (spec, "client").
import { ClientExit } from "../cli/exit-codes.ts";
import type { ConnectFailure } from "../net/connect.ts";
import { escapeForTerminal } from "../output/escape.ts";
import type { LinkEnd } from "./link.ts";

export interface Outcome {
  exitCode: number;
  /** An error line for stderr, if the run failed. */
  error?: string;
  /** A failure's cause in a few words, for `[RECONNECTING] <reason>; ...`. */
  reason?: string;
  /**
   * The failure may not happen again on a new connection (the server went away or is restarting),
   * so --reconnect tries again; a message that is too long or a protocol mix-up would only repeat.
   */
  transient?: boolean;
}

export function connectFailureOutcome(failure: ConnectFailure): Outcome {
  switch (failure.kind) {
    case "refused":
      return {
        exitCode: ClientExit.refused,
        error: "[REFUSED] Connection refused. Make sure the server is running.",
        reason: "Connection refused",
        transient: true,
      };
    case "timeout":
      return {
        exitCode: ClientExit.timeout,
        error: "[TIMEOUT] Connection attempt timed out. Is the server running?",
        reason: "Connection attempt timed out",
        transient: true,
      };
    case "reset":
      return {
        exitCode: ClientExit.lost,
        error: "[ERROR] Connection was reset by the server",
        reason: "Connection was reset by the server",
        transient: true,
      };
    case "error":
      // A name that does not resolve, an address we may not use: trying again would not help.
      return { exitCode: ClientExit.failure, error: `[ERROR] ${failure.error.message}`, reason: failure.error.message };
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

/**
 * The same failure with the count of unacknowledged messages as it is now: --reconnect gave up
 * some time after the failure, and a refusal or a timeout says nothing of them on its own.
 */
export function withLossCount(outcome: Outcome, tally: Tally): Outcome {
  if (outcome.exitCode === ClientExit.lost && outcome.reason !== undefined)
    return lostOutcome(outcome.reason, tally, outcome.transient === true);
  if (outcome.error === undefined || tally.sent === 0) return outcome;
  return { ...outcome, error: outcome.error + lossSuffix(tally) };
}

/** The connection was lost with messages unacknowledged: exit 5, saying why and how many. */
function lostOutcome(reason: string, tally: Tally, transient: boolean): Outcome {
  return { exitCode: ClientExit.lost, error: `[ERROR] ${reason}${lossSuffix(tally)}`, reason, transient };
}

/** The server went away on its own. */
export function linkEndOutcome(how: LinkEnd, tally: Tally): Outcome {
  switch (how.kind) {
    case "reset":
      return lostOutcome("Connection was reset by the server", tally, true);
    case "closed":
      return lostOutcome("Server closed the connection", tally, true);
    case "reply-too-long":
      return lostOutcome(`Reply from server longer than ${how.limit} bytes`, tally, false);
    case "error":
      // A socket error mid-stream is the network's (unreachable, timed out): worth another try.
      return lostOutcome(how.error.message, tally, true);
  }
}

/**
 * Notices that a new connection would only earn again: the same message is too long there too,
 * and a client that is not allowed in stays not allowed. Any other notice (shutting down, full,
 * idle timeout, too many connections from one address) is the server's state, which passes.
 */
const FINAL_NOTICES = ["message too long", "access denied"];

/** The server sent `ERROR <text>`: it closes the connection after a notice. */
export function noticeOutcome(text: string, tally: Tally): Outcome {
  const transient = !FINAL_NOTICES.some((notice) => text.startsWith(notice));
  return lostOutcome(escapeForTerminal(text), tally, transient);
}

export function unexpectedReplyOutcome(text: string, tally: Tally): Outcome {
  const shown = escapeForTerminal(text.length > 200 ? `${text.slice(0, 200)}...` : text);
  return lostOutcome(`Unexpected reply from server: '${shown}'`, tally, false);
}

export function responseTimeoutOutcome(timeoutMs: number, tally: Tally): Outcome {
  // A server that stopped answering may be stuck while another (behind the same address) is not.
  return lostOutcome(`No response from server for ${timeoutMs / 1000} s`, tally, true);
}
