// The TLS certificate, key and (for mutual TLS) client CA, read from their PEM files and checked
// before any listener uses them: at start, and again on every reload (SIGHUP), where a bad new
// pair must be refused while the old one keeps serving.
import { createPrivateKey, X509Certificate } from "node:crypto";
import type { TLSOptions } from "bun";
import { PemFileError, readPemFile } from "../../net/pem-file.ts";
import { ListenError } from "./listener.ts";

/** Where the PEM files are (`--tls-cert`, `--tls-key`, `--tls-client-ca`). */
export interface TlsFiles {
  /** The certificate, optionally followed by its chain. */
  cert: string;
  key: string;
  /** Clients must present a certificate signed by this CA (mutual TLS). */
  clientCa?: string;
}

export interface TlsCredentials {
  readonly files: TlsFiles;
  readonly cert: string;
  readonly key: string;
  readonly clientCa: string | undefined;
  /** The serial number of the server certificate (hex), to tell a renewal took effect. */
  readonly serial: string;
  /** When the server certificate is valid, in ms since the epoch. */
  readonly validFromMs: number;
  readonly validToMs: number;
}

/** Reads and checks the files; throws a ListenError with one plain sentence when they are unusable. */
export function loadTlsCredentials(files: TlsFiles): TlsCredentials {
  const cert = readPem(files.cert, "TLS certificate");
  const key = readPem(files.key, "TLS key");
  const clientCa = files.clientCa === undefined ? undefined : readPem(files.clientCa, "TLS client CA");
  const certificate = parse(() => new X509Certificate(cert), `${files.cert} is not a PEM certificate`);
  const privateKey = parse(() => createPrivateKey(key), `${files.key} is not a PEM private key`);
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new ListenError(`The TLS certificate ${files.cert} does not match the key ${files.key}`, "TLS_MISMATCH");
  }
  if (clientCa !== undefined) parse(() => new X509Certificate(clientCa), `${files.clientCa} is not a PEM certificate`);
  return {
    files,
    cert,
    key,
    clientCa,
    serial: certificate.serialNumber,
    validFromMs: Date.parse(certificate.validFrom),
    validToMs: Date.parse(certificate.validTo),
  };
}

/** Why no client would accept the certificate now (expired, or not valid yet), or undefined. */
export function validityProblem(credentials: TlsCredentials, now = Date.now()): string | undefined {
  const { files, validFromMs, validToMs } = credentials;
  if (now > validToMs) return `the TLS certificate ${files.cert} expired on ${new Date(validToMs).toISOString()}`;
  if (now < validFromMs)
    return `the TLS certificate ${files.cert} is not valid until ${new Date(validFromMs).toISOString()}`;
  return undefined;
}

/**
 * What Bun.listen takes. With a client CA, the handshake asks for a client certificate, and the
 * TLS stage decides after it (see tls-handshake.ts): it serves only a client whose certificate
 * verified, and tells any other why with a notice before it closes. Bun's own refusal
 * (rejectUnauthorized) is off because it closes the socket at once, without an alert for an
 * untrusted certificate, so the client could only say "closed"; and an environment variable
 * (NODE_TLS_REJECT_UNAUTHORIZED=0) could switch it off anyway. Nothing is served before the
 * stage's check: it is the gate.
 */
export function bunTlsOptions(credentials: TlsCredentials): TLSOptions {
  const mutual = credentials.clientCa !== undefined;
  return {
    cert: credentials.cert,
    key: credentials.key,
    ...(mutual ? { ca: credentials.clientCa, requestCert: true, rejectUnauthorized: false } : {}),
  };
}

function readPem(path: string, what: string): string {
  try {
    return readPemFile(path);
  } catch (error) {
    if (!(error instanceof PemFileError)) throw error;
    throw new ListenError(`Cannot read the ${what} ${path}: ${error.reason}`, error.code);
  }
}

function parse<T>(make: () => T, problem: string): T {
  try {
    return make();
  } catch {
    throw new ListenError(problem, "TLS_BAD_PEM");
  }
}
