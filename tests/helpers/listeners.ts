// A server process with several listeners (--listen), and the real clients that talk to them:
// `openssl s_client` for TLS, socat and nc for Unix sockets.
import type { Subprocess } from "bun";
import {
  CHILD_ENV,
  DEADLINE_MS,
  type LineClient,
  SOURCE_SERVER,
  spawnLineClient,
  TextCollector,
  withDeadline,
} from "./processes.ts";

export { spawnLineClient } from "./processes.ts";

export interface ListeningServer {
  proc: Subprocess<"pipe", "pipe", "pipe">;
  stdout: TextCollector;
  stderr: TextCollector;
  /** The addresses of the STARTING lines, in order (`127.0.0.1:5000`, `tls://...`, `unix:...`). */
  addresses: string[];
  /** The port of the first listener whose address starts with `prefix` (`tls://`, or "" for any). */
  portOf(prefix: string): number;
  /** Sends `signal` (SIGTERM by default) and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts `server <args>` and waits for `listeners` STARTING lines; `runAs` is a command that execs
 * the server under other credentials (`setpriv ...`), so the process is still the server.
 */
export async function startListeningServer(
  args: string[],
  listeners: number,
  { env = CHILD_ENV, runAs = [] }: { env?: Record<string, string | undefined>; runAs?: string[] } = {},
): Promise<ListeningServer> {
  const proc = Bun.spawn([...runAs, ...SOURCE_SERVER, ...args], { stdin: "pipe", stdout: "pipe", stderr: "pipe", env });
  const stdout = new TextCollector(proc.stdout);
  const stderr = new TextCollector(proc.stderr);
  const starting = /\[STARTING\] Server is listening on (\S+)/g;
  try {
    await stderr.waitFor((text) => [...text.matchAll(starting)].length >= listeners);
  } catch (error) {
    proc.kill("SIGKILL");
    throw error;
  }
  const addresses = [...stderr.text.matchAll(starting)].map((match) => match[1]!);
  const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
    if (proc.exitCode === null) proc.kill(signal);
    const code = await withDeadline(proc.exited, DEADLINE_MS, "server did not exit");
    await Promise.all([stdout.done, stderr.done]);
    return code;
  };
  return {
    proc,
    stdout,
    stderr,
    addresses,
    portOf(prefix) {
      const address = addresses.find((candidate) => candidate.startsWith(prefix) && !candidate.startsWith("unix:"));
      if (!address) throw new Error(`no listener ${prefix}... in ${addresses.join(", ")}`);
      return Number(address.slice(address.lastIndexOf(":") + 1));
    },
    stop,
    async [Symbol.asyncDispose]() {
      if (proc.exitCode === null) proc.kill("SIGKILL");
      await proc.exited;
    },
  };
}

export interface TlsClientOptions {
  ca: string;
  /** A client certificate and key, for mutual TLS. */
  cert?: string;
  key?: string;
}

/**
 * `openssl s_client` to a TLS port: its stdin lines go to the server, the server's replies come
 * out on stdout (-quiet: no session details; it also keeps the connection open at end of input).
 */
export function opensslClient(port: number, options: TlsClientOptions): LineClient {
  const identity = options.cert && options.key ? ["-cert", options.cert, "-key", options.key] : [];
  return spawnLineClient([
    "openssl",
    "s_client",
    "-connect",
    `127.0.0.1:${port}`,
    "-CAfile",
    options.ca,
    "-verify_return_error",
    "-quiet",
    ...identity,
  ]);
}

/** The serial number (hex, as `openssl x509 -serial` prints it) of the certificate a TLS port serves. */
export async function servedSerial(port: number, ca: string): Promise<string> {
  const session = Bun.spawn(["openssl", "s_client", "-connect", `127.0.0.1:${port}`, "-CAfile", ca], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const shown = await withDeadline(new Response(session.stdout).text(), DEADLINE_MS, "s_client did not finish");
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(shown)?.[0];
  if (!pem) throw new Error(`s_client showed no certificate:\n${shown}`);
  const x509 = Bun.spawnSync(["openssl", "x509", "-noout", "-serial"], { stdin: new Blob([pem]) });
  return x509.stdout
    .toString()
    .trim()
    .replace(/^serial=/, "");
}
