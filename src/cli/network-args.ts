// The server's network flags as options: --listen addresses and the TLS files they need. Whether
// the flags fit together is checked here, so a mistake is a usage error (exit 2) before anything
// listens.
import { ListenAddressError, parseListenAddress } from "../server/listeners/address.ts";
import { type ListenerAddress, proxyProtocolProblem } from "../server/listeners/listener.ts";
import type { TlsFiles } from "../server/listeners/tls-credentials.ts";
import { UsageError } from "./args.ts";

export function parseListen(values: readonly string[]): ListenerAddress[] {
  return values.map((value) => {
    try {
      return parseListenAddress(value);
    } catch (error) {
      if (error instanceof ListenAddressError) throw new UsageError(`--listen ${error.message}`);
      throw error;
    }
  });
}

export interface TlsFlags {
  "tls-cert"?: string;
  "tls-key"?: string;
  "tls-client-ca"?: string;
}

/**
 * The TLS files for the tls:// listeners. A tls:// listener needs a certificate and a key; TLS
 * flags without a tls:// listener are refused too, since the operator believes traffic is
 * encrypted when it would not be.
 */
export function tlsFilesFor(listen: readonly ListenerAddress[], flags: TlsFlags): TlsFiles | undefined {
  const { "tls-cert": cert, "tls-key": key, "tls-client-ca": clientCa } = flags;
  const hasTls = listen.some((address) => address.transport === "tls");
  if (!hasTls) {
    const given = (["tls-cert", "tls-key", "tls-client-ca"] as const).find((flag) => flags[flag] !== undefined);
    if (given) throw new UsageError(`--${given} needs a --listen tls://HOST:PORT listener`);
    return undefined;
  }
  if (cert === undefined || key === undefined) {
    throw new UsageError("a tls:// listener needs --tls-cert FILE and --tls-key FILE");
  }
  return clientCa === undefined ? { cert, key } : { cert, key, clientCa };
}

/** Workers share TCP and TLS ports (reusePort); a Unix socket path has one owner. */
export function workersFor(listen: readonly ListenerAddress[], workers: number): number {
  if (workers > 1 && listen.some((address) => address.transport === "unix")) {
    throw new UsageError("--workers above 1 shares TCP and TLS ports only: a unix: listener needs --workers 1");
  }
  return workers;
}

/** --proxy-protocol with a listener that cannot take a header is a usage error (see proxyProtocolProblem). */
export function proxyProtocolFor(listen: readonly ListenerAddress[], proxyProtocol: boolean): boolean {
  const problem = proxyProtocol ? proxyProtocolProblem(listen) : undefined;
  if (problem) throw new UsageError(problem);
  return proxyProtocol;
}
