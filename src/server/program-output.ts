// What the server program says about its output, limits and listeners, the same whether one
// process serves (main.ts) or a supervisor speaks for its workers (workers/supervisor.ts).
import { isSameDestination } from "../cli/terminal.ts";
import { isLoopback, parseIp } from "../net/cidr.ts";
import type { Logger } from "../output/logger.ts";
import { createLineSink, type LineSink, writeStderrThroughStdout } from "../output/sink.ts";
import { describeAddress, type ListenerAddress, type NetworkAddress } from "./listeners/listener.ts";
import { loadTlsCredentials, type TlsFiles, validityProblem } from "./listeners/tls-credentials.ts";

/**
 * `server 2>&1 | tee log`, or a service whose journal takes both: stdout and stderr are one file,
 * so their lines go through one writer and stay whole (writeStderrThroughStdout). Call it before
 * the first line.
 */
export async function joinOutputWhenOneFile(): Promise<void> {
  if (await isSameDestination("stdout", "stderr")) writeStderrThroughStdout();
}

/** The sink for per-message lines on stdout, or none with --quiet. */
export function createMessageOutput(logger: Logger, quiet: boolean): LineSink | undefined {
  if (quiet) return undefined;
  return createLineSink("stdout", {
    // The server's job is its clients, not its stdout: if stdout fails, keep serving and say so.
    onFailure: (error) =>
      logger.warn(
        error.code === "EPIPE"
          ? "[WARNING] stdout was closed: per-message lines are no longer written"
          : `[WARNING] cannot write to stdout (${error.code ?? error.message}): per-message lines are no longer written`,
        { event: "stdout-failed", code: error.code },
      ),
  });
}

/**
 * A stdout that is read slowly (or not at all) paces the server, as a pipe paces any Unix tool:
 * input waits in the clients' sockets, not in memory. The returned function says so, once.
 */
export function stdoutBehindWarning(logger: Logger): () => void {
  let told = false;
  return () => {
    if (told) return;
    told = true;
    logger.warn("[WARNING] stdout is not keeping up: reading from clients pauses until it does", {
      event: "stdout-behind",
    });
  };
}

export function warnUnflushed(logger: Logger): void {
  logger.warn("[WARNING] stdout did not take the last per-message lines before exit", { event: "stdout-unflushed" });
}

export function warnConnectionsLowered(logger: Logger, maxConnections: number): void {
  logger.warn(`[LIMIT] --max-connections lowered to ${maxConnections} to stay under the open-file limit`, {
    event: "limit-adjusted",
    limit: "connections",
    value: maxConnections,
  });
}

/** Could not listen (a client listener, or --metrics): one plain sentence. */
export function reportListenError(logger: Logger, error: { message: string; code?: string }): void {
  logger.error(`[ERROR] ${error.message}`, { event: "error", code: error.code, error: error.message });
}

/**
 * Redis's protected mode, as a warning: plain text on an address other machines can reach, served
 * to anyone. Behind a PROXY protocol balancer only --proxy-from sources are served: the balancer
 * is the exposed part.
 */
export function warnIfOpenToAnyone(
  logger: Logger,
  listeners: readonly ListenerAddress[],
  options: { allow: readonly string[]; proxyProtocol: boolean },
): void {
  if (options.allow.length > 0 || options.proxyProtocol) return;
  const exposed = listeners.find(reachableFromOtherMachines);
  if (!exposed) return;
  logger.warn(
    `[WARNING] Listening on ${describeAddress(exposed)} without TLS or --allow: anyone who can reach this port can send messages`,
    { event: "unrestricted", address: exposed.host, port: exposed.port },
  );
}

/**
 * `[WARNING] The TLS certificate cert.pem expired on ...`: served all the same (there is no other),
 * but every client that checks it will refuse it, and the reason is far from the client's error.
 */
export function warnIfCertificateInvalid(logger: Logger, tls: TlsFiles | undefined): void {
  if (!tls) return;
  let problem: string | undefined;
  try {
    problem = validityProblem(loadTlsCredentials(tls));
  } catch {
    return; // Read when the listeners started; a file changed since is the next reload's to judge.
  }
  if (problem) {
    logger.warn(`[WARNING] ${problem[0]!.toUpperCase()}${problem.slice(1)}: clients that check it will refuse it`, {
      event: "tls-certificate-invalid",
      detail: problem,
    });
  }
}

/** A plain TCP listener on an address other machines can reach (a host name counts, unless localhost). */
function reachableFromOtherMachines(listener: ListenerAddress): listener is NetworkAddress {
  if (listener.transport !== "tcp" || listener.host === "localhost") return false;
  const address = parseIp(listener.host);
  return !(address && isLoopback(address));
}
