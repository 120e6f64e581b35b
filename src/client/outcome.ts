// How a client run ends: the exit code and the one line that says why (spec, "client").
import { ClientExit } from "../cli/exit-codes.ts";
import type { ConnectFailure } from "../net/connect.ts";
import type { TlsFailure } from "../net/tls-failure.ts";
import { escapeForTerminal } from "../output/escape.ts";
import { notices } from "../protocol/messages.ts";
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
  /**
   * Transient only once the run has had a connection: a TLS handshake that never finishes on the
   * first one is most likely a wrong --tls (a plain-text server waiting for a line), which waiting
   * would not change; after a connection has worked, it is a server restarting or stopped.
   */
  transientOnceConnected?: boolean;
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
    case "no-socket":
      // A server that restarts removes its socket file and makes it again.
      return {
        exitCode: ClientExit.refused,
        error: `[REFUSED] No socket at ${failure.path}. Make sure the server is running.`,
        reason: `No socket at ${failure.path}`,
        transient: true,
      };
    case "no-permission":
      // Bun says only "Failed to connect". Waiting would not change the file's mode: not transient.
      return {
        exitCode: ClientExit.failure,
        error: `[ERROR] Permission denied: ${failure.path} (the socket file's mode, or a folder on its path, does not let this user connect)`,
        reason: `Permission denied: ${failure.path}`,
      };
    case "reset":
      return {
        exitCode: ClientExit.lost,
        error: "[ERROR] Connection was reset by the server",
        reason: "Connection was reset by the server",
        transient: true,
      };
    case "unresolved":
      return {
        exitCode: ClientExit.failure,
        error: `[ERROR] Cannot resolve host ${failure.host}`,
        reason: `Cannot resolve host ${failure.host}`,
      };
    case "tls":
      return tlsOutcome(failure.failure);
    case "error":
      // An address we may not use, and the like: trying again would not help.
      return { exitCode: ClientExit.failure, error: `[ERROR] ${failure.error.message}`, reason: failure.error.message };
  }
}

/** Printed once before connecting with --tls-insecure. */
export const INSECURE_WARNING =
  "[WARNING] The server's certificate is not verified (--tls-insecure): anyone on the way can read and change messages";

/**
 * TLS failed. A certificate, an alert or a protocol mix-up would fail the same way on a new
 * connection; a server that hung up during the handshake may not (a balancer accepts and closes
 * while its backend restarts), nor may one that never finished it, once a connection has worked
 * (a stopped server resumes). Those --reconnect tries again, and the run still ends with exit 6
 * if they go on.
 */
export function tlsOutcome(failure: TlsFailure, tally?: Tally): Outcome {
  const reason = tlsReason(failure);
  return {
    exitCode: ClientExit.tls,
    error: `[TLS] ${reason}${tally ? lossSuffix(tally) : ""}`,
    reason,
    transient: failure.kind === "handshake-failed" && !failure.reason,
    transientOnceConnected: failure.kind === "no-handshake",
  };
}

function tlsReason(failure: TlsFailure): string {
  switch (failure.kind) {
    case "untrusted":
      return failure.selfSigned
        ? "The server's certificate is self-signed and not trusted: give it with --tls-ca to trust it"
        : "The server's certificate is not signed by a trusted CA: give the CA with --tls-ca";
    case "name-mismatch": {
      // The names are the certificate's, which the server's owner chose: escaped, so a CN cannot
      // drive the terminal or forge a status line.
      const names = failure.names.length > 0 ? failure.names.map(escapeForTerminal).join(", ") : "no name";
      return `The server's certificate is for ${names}, not ${escapeForTerminal(failure.serverName)}`;
    }
    case "expired":
      return `The server's certificate has expired${failure.validTo ? ` (on ${readableDate(failure.validTo)})` : ""}`;
    case "not-yet-valid":
      return `The server's certificate is not valid yet${failure.validFrom ? ` (until ${readableDate(failure.validFrom)})` : ""}`;
    case "client-certificate-required":
      return "The server requires a client certificate: give one with --tls-cert and --tls-key";
    case "client-certificate-rejected":
      return "The server does not accept our client certificate (--tls-cert): not signed by a CA it trusts, or expired";
    case "no-handshake":
      return "The server did not complete the TLS handshake in time: is it speaking TLS?";
    case "alert":
      return `The server refused the TLS handshake (alert: ${failure.alert})`;
    case "handshake-failed":
      return failure.reason
        ? `The TLS handshake failed (${failure.reason}): is the server speaking TLS?`
        : "The server closed the connection during the TLS handshake: is it speaking TLS?";
  }
}

/** OpenSSL's "Jan  2 00:00:00 2020 GMT" as "2020-01-02 00:00 UTC". */
function readableDate(opensslDate: string): string {
  const date = new Date(opensslDate);
  if (Number.isNaN(date.getTime())) return opensslDate;
  return `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** Counts of one session, for the "how many went unacknowledged" part of a failure. */
export interface Tally {
  sent: number;
  acknowledged: number;
  /**
   * The start of a line went out and its LF has not (a line too long to hold back, see
   * sendPipelined): it is no message yet, so it is in neither count, but it was being sent.
   */
  cutLine?: boolean;
}

export function lossSuffix({ sent, acknowledged, cutLine }: Tally): string {
  const owed = sent - acknowledged;
  const cut = cutLine ? "; a line was cut off before its end" : "";
  return ` (${owed} of ${sent} message${sent === 1 ? "" : "s"} unacknowledged${cut})`;
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
    case "tls":
      return tlsOutcome(how.failure, tally);
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
  // Said after the handshake, but TLS failures all the same (exit 6), and final.
  if (text === notices.clientCertificateRequired) return tlsOutcome({ kind: "client-certificate-required" }, tally);
  if (text === notices.clientCertificateRejected) return tlsOutcome({ kind: "client-certificate-rejected" }, tally);
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
