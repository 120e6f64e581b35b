// Turns server events into output: one stdout line per message (the tutorial's `[peer] text`,
// escaped, or a JSON object), lifecycle lines on stderr through the logger.
import { escapeForTerminal, escapeJsonForTerminal } from "../output/escape.ts";
import type { Logger } from "../output/logger.ts";
import type { LineSink } from "../output/sink.ts";
import type { RejectionReason } from "./admission.ts";
import type { ServerEvents } from "./events.ts";
import { describeAddress } from "./listeners/listener.ts";

export interface ServerReporterOptions {
  logger: Logger;
  /** Where per-message lines go (stdout); omitted with --quiet. */
  messages?: LineSink;
  json: boolean;
  /** Called when per-message lines pile up behind a slow stdout (more than the limit waits). */
  onMessagesBehind?: () => void;
}

/** Per-message lines (in characters) that may wait for a slow stdout before onMessagesBehind. */
export const MESSAGES_BACKLOG_LIMIT = 8 * 1024 * 1024;

/** The log tag of a refusal: PROXY trouble has its own, allow/deny is DENIED, the per-address cap is a limit. */
function refusalTag(reason: RejectionReason): string {
  return reason === "proxy" ? "PROXY" : reason === "denied" ? "DENIED" : "LIMIT";
}

export function createServerReporter({
  logger,
  messages,
  json,
  onMessagesBehind,
}: ServerReporterOptions): ServerEvents {
  return {
    listening(address) {
      const where =
        address.transport === "unix"
          ? { address: address.path }
          : { address: address.host, host: address.host, port: address.port };
      logger.info(`[STARTING] Server is listening on ${describeAddress(address)}`, {
        event: "starting",
        ...where,
        transport: address.transport,
      });
    },
    connected(peer, active, subject) {
      // The tutorial's line, with the client certificate's name where there is one.
      const who = subject === undefined ? "" : ` (${escapeForTerminal(subject)})`;
      logger.info(`[NEW CONNECTION] ${peer} connected${who}.`, { event: "connected", peer, active, subject });
      logger.info(`[ACTIVE CONNECTIONS] ${active}`, { event: "active", active });
    },
    message: messages && messageWriter(messages, json, onMessagesBehind),
    reset(peer) {
      logger.info(`[${peer}] Connection reset by client`, { event: "reset", peer });
    },
    disconnected(peer, active) {
      logger.info(`[DISCONNECTED] ${peer} disconnected`, { event: "disconnected", peer, active });
    },
    refused(peer, reason, detail) {
      logger.warn(`[${refusalTag(reason)}] ${peer} ${detail}`, { event: "refused", peer, reason, detail });
    },
    limitHit(peer, limit, detail) {
      logger.warn(`[LIMIT] ${peer} ${detail}`, { event: "limit", peer, limit, detail });
    },
    repliesUndelivered(peer, bytes) {
      logger.warn(`[LIMIT] ${peer} stopped reading while closing: ${bytes} bytes of replies not delivered`, {
        event: "replies-undelivered",
        peer,
        bytes,
      });
    },
    socketError(peer, error) {
      logger.error(`[ERROR] ${peer}: ${error.message}`, { event: "socket-error", peer, error: error.message });
      logger.debug(error);
    },
    handshakeFailed(peer, reason) {
      logger.warn(`[TLS] ${peer} handshake failed: ${reason}`, { event: "tls-failed", peer, reason });
    },
    shuttingDown() {
      logger.info(`[SHUTTING DOWN] Server is shutting down...`, { event: "shutting-down" });
    },
    closed() {
      logger.info(`[CLOSED] Server socket closed`, { event: "closed" });
    },
  };
}

function messageWriter(
  sink: LineSink,
  json: boolean,
  onBehind: (() => void) | undefined,
): (peer: string, text: string) => void {
  const write = (line: string) => {
    sink.write(line);
    if (onBehind && sink.backlog > MESSAGES_BACKLOG_LIMIT) onBehind();
  };
  if (json) {
    return (peer, message) =>
      write(
        escapeJsonForTerminal(JSON.stringify({ time: new Date().toISOString(), event: "message", peer, message })) +
          "\n",
      );
  }
  return (peer, text) => write(`[${peer}] ${escapeForTerminal(text)}\n`);
}
