// What a finished TLS handshake means for the server: whether to serve the client (and if not,
// why, in words an operator reads), and who the client is when it showed a certificate.

/** What is read of Bun's TLS socket once its handshake is done. */
export interface HandshakenSocket {
  readonly authorized: boolean;
  getPeerCertificate():
    | { subject?: Record<string, string | string[] | undefined>; subjectaltname?: string }
    | undefined
    | null;
}

/**
 * Why this handshake must cost the client its connection, or undefined to serve it. With mutual
 * TLS the verdict is ours, not only OpenSSL's: Bun reports a client certificate from an unknown
 * CA as a successful handshake with an authorization error, and NODE_TLS_REJECT_UNAUTHORIZED=0 in
 * the environment switches its own refusal off. `authorized` is true only for a certificate that
 * chains to the client CA.
 */
export function handshakeFailure(
  socket: HandshakenSocket,
  success: boolean,
  error: Error | null | undefined,
  mutual: boolean,
): string | undefined {
  if (!success) return plainReason(error) ?? "the handshake failed";
  if (!mutual || (socket.authorized && !error)) return undefined;
  const code = (error as NodeJS.ErrnoException | null | undefined)?.code;
  if (code === "CERT_HAS_EXPIRED") return "the client certificate has expired";
  if (!certificatePresented(socket)) return "the client sent no certificate";
  return `the client certificate is not trusted${error?.message ? ` (${error.message})` : ""}`;
}

/** Whether the client showed a certificate at all. */
export function certificatePresented(socket: HandshakenSocket): boolean {
  return Boolean(socket.getPeerCertificate()?.subject);
}

/** The client certificate's common name, else its first subject alternative name. */
export function clientSubject(socket: HandshakenSocket): string | undefined {
  const certificate = socket.getPeerCertificate();
  const commonName = [certificate?.subject?.CN].flat()[0];
  if (commonName) return commonName;
  // `DNS:client.example, IP Address:10.0.0.1`: the value of the first entry.
  const first = certificate?.subjectaltname?.split(",")[0]?.trim();
  return first ? first.slice(first.indexOf(":") + 1) : undefined;
}

/** OpenSSL's `error:100000f7:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER`, in words. */
function plainReason(error: Error | null | undefined): string | undefined {
  if (!error?.message) return undefined;
  const token = error.message.split(":").at(-1)!.trim();
  switch (token) {
    case "WRONG_VERSION_NUMBER":
    case "HTTP_REQUEST":
    case "HTTPS_PROXY_REQUEST":
      return "the client does not speak TLS";
    case "PEER_DID_NOT_RETURN_A_CERTIFICATE":
      return "the client sent no certificate";
    // Node's words for a socket closed mid-handshake, which Bun reports as a failed handshake.
    case "Client network socket disconnected before secure TLS connection was established":
      return "the client hung up during the handshake";
    case "NO_SHARED_CIPHER":
    case "NO_SHARED_GROUP":
    case "UNSUPPORTED_PROTOCOL":
      return "no TLS version or cipher in common with the client";
  }
  return /^[A-Z0-9_]+$/.test(token) ? token.toLowerCase().replaceAll("_", " ") : error.message;
}
