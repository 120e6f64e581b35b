// Turns server events into output: one stdout line per message (the tutorial's `[peer] text`,
// escaped, or a JSON object), lifecycle lines on stderr through the logger.
import { escapeForTerminal, escapeJsonForTerminal } from "../output/escape.ts";
import type { Logger } from "../output/logger.ts";
import type { LineSink } from "../output/sink.ts";
import { decodeLines, splitLines } from "../protocol/framing.ts";
import type { RejectionReason } from "./admission.ts";
import { copiesLines, type ServerEvents } from "./events.ts";
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
    ...(messages && messageWriters(messages, json, onMessagesBehind)),
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

function messageWriters(
  sink: LineSink,
  json: boolean,
  onBehind: (() => void) | undefined,
): Pick<ServerEvents, "message" | "messageLines"> {
  const checkBehind = () => {
    if (onBehind && sink.backlog > MESSAGES_BACKLOG_LIMIT) onBehind();
  };
  const write = (line: string) => {
    sink.write(line);
    checkBehind();
  };
  if (json) {
    return {
      message: (peer, message) =>
        write(
          escapeJsonForTerminal(JSON.stringify({ time: new Date().toISOString(), event: "message", peer, message })) +
            "\n",
        ),
    };
  }
  const message = (peer: string, text: string) => write(`[${peer}] ${escapeForTerminal(text)}\n`);
  return {
    message,
    // Lines that escaping leaves as they are (printable ASCII) are copied from the bytes that came,
    // `[peer] ` before each, with no string made; a read with any other byte takes the string way.
    // Either way nothing of `lines` is kept past the call.
    messageLines: copiesLines((peer: string, lines: Buffer) => {
      const plain = plainLines(lines);
      // The peer goes in as it is, as in `message`: it has only to be one byte a character.
      if (plain === undefined || !oneByteEach(peer)) {
        splitLines(decodeLines(lines), (text) => message(peer, text));
        return;
      }
      const size = lines.length - plain.crs + plain.lines * (peer.length + 3);
      sink.writeBytesWith(size, (into, at) => prefixLines(lines, peer, into, at));
      checkBehind();
    }),
  };
}

/**
 * How many lines `lines` holds, and how many of them end in CR LF, when every byte is one escaping
 * leaves alone (printable ASCII but the backslash) or a line's end; else undefined.
 */
function plainLines(lines: Uint8Array): { lines: number; crs: number } | undefined {
  let count = 0;
  let crs = 0;
  for (let i = 0; i < lines.length; i++) {
    const byte = lines[i]!;
    if (byte >= 0x20 && byte < 0x7f && byte !== BACKSLASH) continue;
    if (byte === LF) count++;
    else if (byte === CR && lines[i + 1] === LF) crs++;
    else return undefined;
  }
  return { lines: count, crs };
}

/** Whether each character of `text` is one byte in UTF-8 (ASCII). */
function oneByteEach(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) return false;
  return true;
}

/** `[peer] message` LF for each line of `lines` (plain: see plainLines), into `into` from `at`. */
function prefixLines(lines: Uint8Array, peer: string, into: Uint8Array, at: number): void {
  // Byte by byte, as LineAckBuilder does: messages are short, and a native call per piece costs more.
  let out = at;
  let i = 0;
  while (i < lines.length) {
    into[out++] = OPEN_BRACKET;
    for (let k = 0; k < peer.length; k++) into[out++] = peer.charCodeAt(k);
    into[out++] = CLOSE_BRACKET;
    into[out++] = SPACE;
    let byte = lines[i++]!;
    while (byte !== LF) {
      if (byte !== CR) into[out++] = byte;
      byte = lines[i++]!;
    }
    into[out++] = LF;
  }
}

const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
