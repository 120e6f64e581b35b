// Turns server events into output: one stdout line per message (the tutorial's `[peer] text`,
// escaped, or a JSON object), lifecycle lines on stderr through the logger.
import { formatAddress } from "../net/address.ts";
import type { ServerEvents } from "../server/events.ts";
import { escapeForTerminal, escapeJsonForTerminal } from "./escape.ts";
import type { Logger } from "./logger.ts";
import type { LineSink } from "./sink.ts";

export interface ServerReporterOptions {
  logger: Logger;
  /** Where per-message lines go (stdout); omitted with --quiet. */
  messages?: LineSink;
  json: boolean;
}

export function createServerReporter({ logger, messages, json }: ServerReporterOptions): ServerEvents {
  return {
    listening({ host, port }) {
      logger.info(`[STARTING] Server is listening on ${formatAddress(host, port)}`, { event: "starting", host, port });
    },
    connected(peer, active) {
      logger.info(`[NEW CONNECTION] ${peer} connected.`, { event: "connected", peer, active });
      logger.info(`[ACTIVE CONNECTIONS] ${active}`, { event: "active", active });
    },
    message: messages && messageWriter(messages, json),
    reset(peer) {
      logger.info(`[${peer}] Connection reset by client`, { event: "reset", peer });
    },
    disconnected(peer, active) {
      logger.info(`[DISCONNECTED] ${peer} disconnected`, { event: "disconnected", peer, active });
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
    shuttingDown() {
      logger.info(`[SHUTTING DOWN] Server is shutting down...`, { event: "shutting-down" });
    },
    closed() {
      logger.info(`[CLOSED] Server socket closed`, { event: "closed" });
    },
  };
}

function messageWriter(sink: LineSink, json: boolean): (peer: string, text: string) => void {
  if (json) {
    return (peer, message) =>
      sink.write(
        escapeJsonForTerminal(JSON.stringify({ time: new Date().toISOString(), event: "message", peer, message })) + "\n",
      );
  }
  return (peer, text) => sink.write(`[${peer}] ${escapeForTerminal(text)}\n`);
}
