// The client's TLS files (--tls-ca, --tls-cert, --tls-key), read once before connecting and
// checked here, so that a wrong path or a key that does not match its certificate is one plain
// sentence, not OpenSSL's "error:0b000074:X.509 certificate routines:...". Bun would only find
// out when connecting, once per connection.
//
// node:crypto is imported when the files are checked, not at the top: a bundler hoists a static
// import of a built-in to the start of the binary even from a module loaded lazily, and loading
// node:crypto costs every start (TLS or not) ~7 ms.
import type { X509Certificate } from "node:crypto";
import type { TlsClientOptions } from "./connect.ts";
import { PemFileError, readPemFile } from "./pem-file.ts";

/** What the command line gives: file paths, not their contents. */
export interface TlsSettings {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  serverName: string;
  verify: boolean;
}

/** A TLS file that cannot be used; the message is a sentence for the user. */
export class TlsFileError extends Error {
  override name = "TlsFileError";
}

export async function loadTlsFiles(settings: TlsSettings): Promise<TlsClientOptions> {
  const { caFile, certFile, keyFile, serverName, verify } = settings;
  // The system's CAs and no client certificate: no file to check, and no node:crypto to load.
  if (caFile === undefined && certFile === undefined && keyFile === undefined) return { serverName, verify };
  const { createPrivateKey, X509Certificate } = await import("node:crypto");
  // The first certificate of a PEM file (a CA file may hold several).
  const certificate = (flag: string, path: string, pem: string): X509Certificate => {
    try {
      return new X509Certificate(pem);
    } catch {
      throw new TlsFileError(`${flag} ${path} is not a PEM certificate`);
    }
  };
  const ca = caFile === undefined ? undefined : readPem("--tls-ca", caFile);
  const cert = certFile === undefined ? undefined : readPem("--tls-cert", certFile);
  const key = keyFile === undefined ? undefined : readPem("--tls-key", keyFile);
  if (ca !== undefined) certificate("--tls-ca", caFile!, ca);
  if (cert !== undefined && key !== undefined) {
    const clientCertificate = certificate("--tls-cert", certFile!, cert);
    let privateKey: ReturnType<typeof createPrivateKey>;
    try {
      privateKey = createPrivateKey(key);
    } catch {
      throw new TlsFileError(`--tls-key ${keyFile} is not a PEM private key (or it needs a passphrase)`);
    }
    if (!clientCertificate.checkPrivateKey(privateKey))
      throw new TlsFileError(`--tls-key ${keyFile} is not the key of --tls-cert ${certFile}`);
  }
  return { ca, cert, key, serverName, verify };
}

function readPem(flag: string, path: string): string {
  try {
    return readPemFile(path);
  } catch (error) {
    if (!(error instanceof PemFileError)) throw error;
    throw new TlsFileError(`Cannot read ${flag} ${path}: ${error.reason}`);
  }
}
