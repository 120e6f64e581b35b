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
  /** --allow/--deny refused the client, or it sent a PROXY header without being a trusted proxy. */
  accessDenied: "access denied",
  tooManyFromAddress: "too many connections from your address",
  /** --proxy-protocol: the header was missing, malformed or too slow. */
  badProxyHeader: "bad PROXY protocol header",
} as const;

export type Reply =
  | { kind: "ack"; text: string }
  | { kind: "notice"; text: string }
  | { kind: "unexpected"; text: string };

const ACK_PREFIX_BYTES = Buffer.from(ACK_PREFIX);
const LF = 0x0a;
const CR = 0x0d;

/**
 * How many replies `lines` holds (complete lines, each with its LF, as a LinesHandler gets them)
 * when every one is a plain ack, else -1. It works on the bytes and allocates nothing, so a client
 * can take a read's acks whole without decoding them. (A line starts with the ASCII ACK_PREFIX
 * exactly when its decoded text does: ASCII characters come only from ASCII bytes.)
 */
export function countAcks(lines: Uint8Array): number {
  // A line ending in CR must lose it (line framing), so such lines take the line-by-line path.
  if (lines.indexOf(CR) !== -1) return -1;
  const prefixLength = ACK_PREFIX_BYTES.length;
  let count = 0;
  for (let start = 0; start < lines.length; count++) {
    for (let i = 0; i < prefixLength; i++) if (lines[start + i] !== ACK_PREFIX_BYTES[i]) return -1;
    const lf = lines.indexOf(LF, start + prefixLength);
    if (lf === -1) return -1;
    start = lf + 1;
  }
  return count === 0 ? -1 : count;
}

/** Classifies one reply line from a server (line framing). */
export function classifyReply(line: string): Reply {
  if (line.startsWith(ACK_PREFIX)) return { kind: "ack", text: line };
  if (line.startsWith(NOTICE_PREFIX)) return { kind: "notice", text: line.slice(NOTICE_PREFIX.length) };
  return { kind: "unexpected", text: line };
}
