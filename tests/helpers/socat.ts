// socat as a real peer in front of our plaintext server: a TLS terminator (OPENSSL-LISTEN, with
// or without a client CA) or a Unix socket forwarder (UNIX-LISTEN, ABSTRACT-LISTEN). It listens
// on port 0 where there is a port and reports the real one with -d -d.
import type { Subprocess } from "bun";
import { TextCollector } from "./processes.ts";

export interface SocatProcess extends AsyncDisposable {
  /** The TCP port socat listens on (0 for a Unix socket). */
  port: number;
  proc: Subprocess<"ignore", "ignore", "pipe">;
}

/** Starts `socat LISTEN CONNECT` and waits until it listens. */
export async function startSocat(listen: string, connect: string): Promise<SocatProcess> {
  const proc = Bun.spawn(["socat", "-d", "-d", listen, connect], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const stderr = new TextCollector(proc.stderr);
  try {
    const [, port] = await stderr.waitFor(/listening on AF=\d+ (?:[\d.]+:(\d+)|")/);
    return {
      port: Number(port ?? 0),
      proc,
      async [Symbol.asyncDispose]() {
        proc.kill();
        await proc.exited;
      },
    };
  } catch (error) {
    proc.kill("SIGKILL");
    throw error;
  }
}

/** A TLS terminator on 127.0.0.1 for our plaintext server on `plainPort`; `clientCa` demands a client certificate. */
export function tlsTerminator(
  pair: { cert: string; key: string },
  plainPort: number,
  clientCa?: string,
): Promise<SocatProcess> {
  const verify = clientCa ? `cafile=${clientCa},verify=1` : "verify=0";
  return startSocat(
    `OPENSSL-LISTEN:0,bind=127.0.0.1,reuseaddr,fork,cert=${pair.cert},key=${pair.key},${verify}`,
    `TCP:127.0.0.1:${plainPort}`,
  );
}
