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

/** Classifies one reply line from a server (line framing). */
export function classifyReply(line: string): Reply {
  if (line.startsWith(ACK_PREFIX)) return { kind: "ack", text: line };
  if (line.startsWith(NOTICE_PREFIX)) return { kind: "notice", text: line.slice(NOTICE_PREFIX.length) };
  return { kind: "unexpected", text: line };
}
