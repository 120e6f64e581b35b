// The words on the wire, in one place: what an acknowledgement and a server notice look like.
// Both programs (and the tests) build and recognise them only through this module.
import { isUtf8 } from "node:buffer";

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
  /**
   * mTLS: the client showed no certificate, or one not from --tls-client-ca (or expired). The
   * server checks it after a TLS 1.3 handshake the client already counts as done, so TLS has no
   * alert left to say it with; these lines do. The client exits 6 (a TLS failure) on either.
   */
  clientCertificateRequired: "client certificate required",
  clientCertificateRejected: "client certificate not accepted",
} as const;

export type Reply =
  | { kind: "ack"; text: string }
  | { kind: "notice"; text: string }
  | { kind: "unexpected"; text: string };

const ACK_PREFIX_BYTES = Buffer.from(ACK_PREFIX);
/** The end of a line-framed ack, with its LF. */
const ACK_SUFFIX_LINE_BYTES = Buffer.from(`${ACK_SUFFIX}\n`);
/** What an ack adds to its message's bytes (the line's own LF is reused, a CR is dropped). */
const ACK_OVERHEAD = ACK_PREFIX_BYTES.length + ACK_SUFFIX_LINE_BYTES.length - 1;
const LF = 0x0a;
const CR = 0x0d;

/**
 * The line-framed acks of one read, made from its bytes: for a server that needs no message as a
 * string (nothing prints it), valid UTF-8 decodes and re-encodes to the very same bytes, so the
 * ack is the prefix, the line's bytes and the suffix, copied into a buffer reused from read to
 * read. No string per read or per message, and one write per read.
 */
export class LineAckBuilder {
  private buffer = Buffer.allocUnsafe(16 * 1024);
  /** Messages in what build() last returned. */
  count = 0;

  constructor(
    /**
     * The most bytes it keeps for acks; a read needing more is left to the string path. Small
     * reads are where a string per read costs most; a buffer much larger stays in RSS and, as the
     * backpressure test shows, makes the server's memory under a flood less steady.
     */
    private readonly maxBytes = 64 * 1024,
  ) {}

  /**
   * `lines` (complete lines, each with its LF, as a LinesHandler gets them) as acks, or undefined
   * when they do not end with an LF, when the bytes are not valid UTF-8 (their acks carry U+FFFD: the string path makes those) or
   * the acks would need more than maxBytes. The result is their length: they are the first that
   * many bytes of `bytes`, a buffer reused from call to call (write or copy them before the next).
   */
  build(lines: Uint8Array): number | undefined {
    // Every line ends with its LF (the inner loop below relies on it), and the bytes are UTF-8.
    if (lines[lines.length - 1] !== LF || !(isAscii(lines) || isUtf8(lines))) return undefined;
    // Acks are longer than their lines: a read this large cannot fit, so do not start.
    if (lines.length > this.maxBytes) return undefined;
    // Byte by byte in plain loops: messages are short, and a native call per piece (copy, set,
    // subarray) costs more than the copying itself, enough to lose to the string path when
    // pipelined.
    const prefix = ACK_PREFIX_BYTES;
    const suffix = ACK_SUFFIX_LINE_BYTES;
    const length = lines.length;
    let out = this.buffer;
    let size = 0;
    let count = 0;
    let i = 0;
    while (i < length) {
      // Room for the rest of the input as one more ack: this line fits whatever its length.
      const needed = size + (length - i) + ACK_OVERHEAD;
      if (needed > out.length) {
        if (needed > this.maxBytes) return undefined;
        const grown = Buffer.allocUnsafe(Math.min(this.maxBytes, Math.max(needed, out.length * 2)));
        out.copy(grown, 0, 0, size);
        this.buffer = out = grown;
      }
      for (let k = 0; k < prefix.length; k++) out[size++] = prefix[k]!;
      const contentStart = size;
      let byte = lines[i++]!;
      while (byte !== LF) {
        out[size++] = byte;
        byte = lines[i++]!;
      }
      if (size > contentStart && out[size - 1] === CR) size--;
      for (let k = 0; k < suffix.length; k++) out[size++] = suffix[k]!;
      count++;
    }
    this.count = count;
    return size;
  }

  /** Where build() puts the acks. */
  get bytes(): Buffer {
    return this.buffer;
  }
}

/**
 * Short input that is all ASCII, so valid UTF-8: checked in a loop, which for a lockstep read's few
 * bytes costs less than the native isUtf8 call (user CPU per message 0.86 -> 0.68 us with the
 * whole-read path in framing.ts, `bun bench/ab.ts`). Longer input goes to isUtf8 at once.
 */
function isAscii(bytes: Uint8Array): boolean {
  if (bytes.length > 64) return false;
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! >= 0x80) return false;
  return true;
}

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
