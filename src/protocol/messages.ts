// The words on the wire, in one place: what an acknowledgement and a server notice look like.
// Both programs (and the tests) build and recognise them only through this module.

export type Framing = "line" | "raw";
export const FRAMINGS: readonly Framing[] = ["line", "raw"];

export const ACK_PREFIX = "Message '";
export const ACK_SUFFIX = "' received successfully";
export const NOTICE_PREFIX = "ERROR ";

/** The tutorial's reply to one message (no line ending: the framing adds it). */
export function ackFor(message: string): string {
  return ACK_PREFIX + message + ACK_SUFFIX;
}

/** Why the server closes a connection; each becomes one `ERROR <text>` line. */
export const notices = {
  serverFull: "server is full",
  idleTimeout: "idle timeout",
  shuttingDown: "server shutting down",
  messageTooLong: (limitBytes: number) => `message too long (limit ${limitBytes} bytes)`,
} as const;

export function noticeLine(text: string): string {
  return NOTICE_PREFIX + text + "\n";
}

export type Reply =
  | { kind: "ack"; text: string }
  | { kind: "notice"; text: string }
  | { kind: "unexpected"; text: string };

/**
 * How many replies `lines` holds (LF-separated, as LinesHandler gives them) when every one is a
 * plain ack, else -1. It allocates nothing, so a client can take a read's acks whole.
 */
export function countAcks(lines: string): number {
  // A line ending in CR must lose it (line framing), so such lines take the line-by-line path.
  if (!lines.startsWith(ACK_PREFIX) || lines.includes("\r")) return -1;
  let count = 1;
  for (let lf = lines.indexOf("\n"); lf !== -1; lf = lines.indexOf("\n", lf + 1)) {
    if (!lines.startsWith(ACK_PREFIX, lf + 1)) return -1;
    count++;
  }
  return count;
}

/** Classifies one reply line from a server (line framing). */
export function classifyReply(line: string): Reply {
  if (line.startsWith(ACK_PREFIX)) return { kind: "ack", text: line };
  if (line.startsWith(NOTICE_PREFIX)) return { kind: "notice", text: line.slice(NOTICE_PREFIX.length) };
  return { kind: "unexpected", text: line };
}
