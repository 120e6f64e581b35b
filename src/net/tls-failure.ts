// Why a TLS connection failed, from the error Bun gives (OpenSSL's verification codes, or
// "error:...:SSL routines:...:REASON" messages) and the certificate the server showed. Kinds,
// not sentences: src/client/outcome.ts words them.
import type { Socket } from "bun";

export type TlsFailure =
  | { kind: "untrusted"; selfSigned: boolean }
  | { kind: "name-mismatch"; serverName: string; names: string[] }
  | { kind: "expired"; validTo?: string }
  | { kind: "not-yet-valid"; validFrom?: string }
  /** The server asked for a client certificate and we gave none. */
  | { kind: "client-certificate-required" }
  /** The server did not accept the client certificate we gave (its `ERROR` notice says so). */
  | { kind: "client-certificate-rejected" }
  /** The server never finished the handshake: most often a plaintext server waiting for a line. */
  | { kind: "no-handshake" }
  /** The server ended the handshake with an alert ("handshake failure", "unknown ca", ...). */
  | { kind: "alert"; alert: string }
  /** Anything else; `reason` is OpenSSL's, made readable ("wrong version number"); none: the server hung up. */
  | { kind: "handshake-failed"; reason?: string };

const UNTRUSTED = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_UNTRUSTED",
  "CERT_SIGNATURE_FAILURE",
]);
const SELF_SIGNED = new Set(["DEPTH_ZERO_SELF_SIGNED_CERT", "SELF_SIGNED_CERT_IN_CHAIN"]);

/**
 * OpenSSL's verification codes (the certificate did not verify: the handshake itself went
 * through), as against handshake failures (`ERR_SSL_...`, alerts) and errors of the connection.
 */
const VERIFICATION_CODE =
  /^(?:CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|INVALID_|PATH_LENGTH_|AKID_|KEYUSAGE_|HOSTNAME_MISMATCH$|IP_ADDRESS_MISMATCH$|EMAIL_MISMATCH$|SUBJECT_ISSUER_MISMATCH$|ERR_TLS_CERT_ALTNAME_INVALID$)/;

/** The server's certificate did not verify (untrusted, self-signed, for another name, out of date, ...). */
export function isVerificationError(error: Error | undefined): boolean {
  return VERIFICATION_CODE.test((error as NodeJS.ErrnoException | undefined)?.code ?? "");
}

/** Errors that come from TLS rather than from the connection under it. */
export function isTlsError(error: Error | undefined): boolean {
  if (!error) return false;
  const code = (error as NodeJS.ErrnoException).code ?? "";
  return (
    /SSL routines|TLSV1_ALERT|SSLV3_ALERT/.test(error.message) ||
    code.startsWith("ERR_TLS") ||
    code.startsWith("ERR_SSL")
  );
}

/**
 * `error` is what Bun reported (undefined when the server just closed during the handshake);
 * `socket`, when given, is asked for the certificate the server showed.
 */
export function describeTlsError(error: Error | undefined, serverName: string, socket?: Socket<unknown>): TlsFailure {
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? "";
  if (UNTRUSTED.has(code)) return { kind: "untrusted", selfSigned: false };
  if (SELF_SIGNED.has(code)) return { kind: "untrusted", selfSigned: true };
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID")
    return { kind: "name-mismatch", serverName, names: certificateNames(socket) };
  if (code === "CERT_HAS_EXPIRED") return { kind: "expired", validTo: peerCertificate(socket)?.valid_to };
  if (code === "CERT_NOT_YET_VALID") return { kind: "not-yet-valid", validFrom: peerCertificate(socket)?.valid_from };
  const reason = error && opensslReason(error.message);
  if (reason === "TLSV1_ALERT_CERTIFICATE_REQUIRED") return { kind: "client-certificate-required" };
  const readable = (text: string) => text.toLowerCase().replace(/_/g, " ");
  const alert = reason && /^(?:TLSV1|SSLV3)_ALERT_(.+)$/.exec(reason)?.[1];
  if (alert) return { kind: "alert", alert: readable(alert) };
  // The server hung up (a FIN, or a reset) before the handshake was done.
  if (!error || code === "ECONNRESET" || code === "EPIPE") return { kind: "handshake-failed" };
  // Another verification code (CERT_REVOKED, ...) or a message without OpenSSL's reason at its end.
  const other = reason ?? (/^[A-Z0-9_]+$/.test(code) ? code : error.message);
  return { kind: "handshake-failed", reason: readable(other) };
}

/** "error:1000045c:SSL routines:OPENSSL_internal:TLSV1_ALERT_CERTIFICATE_REQUIRED" -> the last part. */
function opensslReason(message: string): string | undefined {
  return /:([A-Z0-9_]+)$/.exec(message)?.[1];
}

function peerCertificate(socket: Socket<unknown> | undefined) {
  try {
    return socket?.getPeerCertificate();
  } catch {
    return undefined;
  }
}

/** The DNS names and IP addresses a certificate is for (its SANs, or its CN when it has none). */
function certificateNames(socket: Socket<unknown> | undefined): string[] {
  const certificate = peerCertificate(socket);
  const sans = certificate?.subjectaltname
    ?.split(/,\s*/)
    .map((entry) => /^(?:DNS|IP Address):(.+)$/.exec(entry)?.[1])
    .filter((name): name is string => name !== undefined);
  if (sans && sans.length > 0) return sans.map(compactIPv6);
  const commonName = certificate?.subject?.CN;
  return commonName ? [commonName].flat() : [];
}

/** OpenSSL prints IPv6 SANs in full (0:0:0:0:0:0:0:1); people write ::1, and so does the URL parser. */
function compactIPv6(name: string): string {
  if (!name.includes(":")) return name;
  try {
    return new URL(`http://[${name}]/`).hostname.slice(1, -1);
  } catch {
    return name;
  }
}
