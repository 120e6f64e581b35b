// How a client run ends: the exit code and the one line that says why (spec, "client").
import { ClientExit } from "../cli/exit-codes.ts";
import type { ConnectFailure } from "../net/connect.ts";
import type { TlsFailure } from "../net/tls-failure.ts";
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
    case "no-socket":
      return {
        exitCode: ClientExit.refused,
        error: `[REFUSED] No socket at ${failure.path}. Make sure the server is running.`,
      };
    case "reset":
      return { exitCode: ClientExit.lost, error: "[ERROR] Connection was reset by the server" };
    case "unresolved":
      return { exitCode: ClientExit.failure, error: `[ERROR] Cannot resolve host ${failure.host}` };
    case "tls":
      return tlsOutcome(failure.failure);
    case "error":
      return { exitCode: ClientExit.failure, error: `[ERROR] ${failure.error.message}` };
  }
}

/** Printed once before connecting with --tls-insecure. */
export const INSECURE_WARNING =
  "[WARNING] The server's certificate is not verified (--tls-insecure): anyone on the way can read and change messages";

export function tlsOutcome(failure: TlsFailure): Outcome {
  return { exitCode: ClientExit.tls, error: `[TLS] ${tlsReason(failure)}` };
}

function tlsReason(failure: TlsFailure): string {
  switch (failure.kind) {
    case "untrusted":
      return failure.selfSigned
        ? "The server's certificate is self-signed and not trusted: give it with --tls-ca to trust it"
        : "The server's certificate is not signed by a trusted CA: give the CA with --tls-ca";
    case "name-mismatch": {
      const names = failure.names.length > 0 ? failure.names.join(", ") : "no name";
      return `The server's certificate is for ${names}, not ${failure.serverName}`;
    }
    case "expired":
      return `The server's certificate has expired${failure.validTo ? ` (on ${readableDate(failure.validTo)})` : ""}`;
    case "not-yet-valid":
      return `The server's certificate is not valid yet${failure.validFrom ? ` (until ${readableDate(failure.validFrom)})` : ""}`;
    case "client-certificate-required":
      return "The server requires a client certificate: give one with --tls-cert and --tls-key";
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
}

export function lossSuffix({ sent, acknowledged }: Tally): string {
  const owed = sent - acknowledged;
  return ` (${owed} of ${sent} message${sent === 1 ? "" : "s"} unacknowledged)`;
}

/** The server went away on its own. */
export function linkEndOutcome(how: LinkEnd, tally: Tally): Outcome {
  if (how.kind === "tls") {
    const { exitCode, error } = tlsOutcome(how.failure);
    return { exitCode, error: `${error}${lossSuffix(tally)}` };
  }
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
