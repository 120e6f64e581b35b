// The words on the wire, in one place: what an acknowledgement and a server notice look like.
// Both programs (and the tests) build and recognise them only through this module.
import { isAscii, isUtf8 } from "./utf8.ts";

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

// Bytes made without Buffer: a one-shot client that loads this module never pays for Buffer's
// first use (utf8.ts says why).
export const ACK_PREFIX_BYTES = asciiBytes(ACK_PREFIX);
/** The end of a line-framed ack, with its LF. */
export const ACK_SUFFIX_LINE_BYTES = asciiBytes(`${ACK_SUFFIX}\n`);
/**
 * The shortest ack (of an empty message). A shorter line may start with the prefix and end with
 * the suffix, the two overlapping, as `Message ' received successfully` does: it is no ack.
 */
export const MIN_ACK_LENGTH = ACK_PREFIX.length + ACK_SUFFIX.length;
/** What an ack adds to its message's bytes (the line's own LF is reused, a CR is dropped). */
const ACK_OVERHEAD = ACK_PREFIX_BYTES.length + ACK_SUFFIX_LINE_BYTES.length - 1;
const LF = 0x0a;
const CR = 0x0d;
/**
 * Uint8Array's own indexOf, for a search per line: Buffer's adds a layer of argument handling
 * that costs more than the search itself for a short line (`client --quiet < 1M lines`: 106 -> 98
 * ms of CPU).
 */
const typedIndexOf = Uint8Array.prototype.indexOf;

function asciiBytes(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/**
 * The line-framed acks of one read, made from its bytes: for a server that needs no message as a
 * string (nothing prints it), valid UTF-8 decodes and re-encodes to the very same bytes, so the
 * ack is the prefix, the line's bytes and the suffix, copied into a buffer reused from read to
 * read. No string per read or per message. A read whose acks do not fit is acknowledged a buffer at
 * a time (build() from where the last one stopped), so a flood of tiny messages, each ack 30 times
 * its line, makes no garbage and lets the caller stop between buffers (backpressure).
 */
export class LineAckBuilder {
  private buffer: Buffer;
  /** Messages in what build() last returned. */
  count = 0;
  /** Where in its input build() stopped: the start of the first line it did not acknowledge. */
  next = 0;

  constructor(
    /**
     * The most bytes it keeps for acks. Small reads are where a string per read costs most; a
     * buffer much larger stays in RSS and, as the backpressure test shows, makes the server's
     * memory under a flood less steady.
     */
    private readonly maxBytes = 64 * 1024,
  ) {
    this.buffer = Buffer.allocUnsafe(Math.min(16 * 1024, maxBytes));
  }

  /**
   * Whether build() can take `lines` (complete lines, each with its LF, as a LinesHandler gets
   * them): they end with an LF, and they are valid UTF-8 (else their acks carry U+FFFD, which the
   * string path makes).
   */
  static takes(lines: Uint8Array): boolean {
    return lines[lines.length - 1] === LF && (isAscii(lines) || isUtf8(lines));
  }

  /**
   * The acks of the lines of `lines` from `from` on (the input must be one build() takes), as many
   * as fit in maxBytes. The result is their length: they are the first that many bytes of `bytes`,
   * a buffer reused from call to call (write or copy them before the next). `count` says how many
   * acks that is and `next` where the rest begins; a count of 0 is a single line whose ack alone
   * is larger than maxBytes.
   */
  build(lines: Uint8Array, from = 0): number {
    // Byte by byte in plain loops: messages are short, and a native call per piece (copy, set,
    // subarray) costs more than the copying itself, enough to lose to the string path when
    // pipelined.
    const prefix = ACK_PREFIX_BYTES;
    const suffix = ACK_SUFFIX_LINE_BYTES;
    const length = lines.length;
    let out = this.buffer;
    let size = 0;
    let count = 0;
    let i = from;
    while (i < length) {
      // Room for the rest of the input as one more ack: this line fits whatever its length.
      const needed = size + (length - i) + ACK_OVERHEAD;
      if (needed > out.length) {
        if (out.length < this.maxBytes) {
          const grown = Buffer.allocUnsafe(Math.min(this.maxBytes, Math.max(needed, out.length * 2)));
          out.copy(grown, 0, 0, size);
          this.buffer = out = grown;
          continue;
        }
        // The buffer is full size: this line goes in only if its own ack fits.
        if (size + (typedIndexOf.call(lines, LF, i) - i + 1) + ACK_OVERHEAD > out.length) break;
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
    this.next = i;
    return size;
  }

  /** Where build() puts the acks. */
  get bytes(): Buffer {
    return this.buffer;
  }
}

/** How many line-framed messages `bytes` holds: its LFs (the client counts what it sends). */
export function countLineBreaks(bytes: Uint8Array): number {
  let count = 0;
  for (let i = bytes.indexOf(LF); i !== -1; i = bytes.indexOf(LF, i + 1)) count++;
  return count;
}

/**
 * How many replies `lines` holds (complete lines, each with its LF, as a LinesHandler gets them)
 * when every one is a plain ack (isAck), else -1. It works on the bytes and allocates nothing, so
 * a client can take a read's acks whole without decoding them. (A line starts and ends with the
 * ASCII prefix and suffix exactly when its decoded text does: ASCII characters come only from
 * ASCII bytes.)
 */
export function countAcks(lines: Uint8Array): number {
  // A line ending in CR must lose it (line framing), so such lines take the line-by-line path.
  if (lines.indexOf(CR) !== -1) return -1;
  const prefixLength = ACK_PREFIX_BYTES.length;
  const suffixLength = ACK_SUFFIX_LINE_BYTES.length;
  let count = 0;
  for (let start = 0; start < lines.length; count++) {
    for (let i = 0; i < prefixLength; i++) if (lines[start + i] !== ACK_PREFIX_BYTES[i]) return -1;
    const lf = typedIndexOf.call(lines, LF, start + prefixLength);
    if (lf === -1 || lf - start < MIN_ACK_LENGTH) return -1;
    const suffixAt = lf + 1 - suffixLength;
    for (let i = 0; i < suffixLength; i++) if (lines[suffixAt + i] !== ACK_SUFFIX_LINE_BYTES[i]) return -1;
    start = lf + 1;
  }
  return count === 0 ? -1 : count;
}

/**
 * Whether a reply line (without its line ending) is an ack: the prefix, then the message, then
 * the suffix. A line that only starts like one is something else, a server speaking another
 * framing (a raw-framing ack of `a\nb` arrives as `Message 'a`, then `b' received ...`) or a
 * line cut short, and is not counted as a receipt.
 */
export function isAck(line: string): boolean {
  return line.length >= MIN_ACK_LENGTH && line.startsWith(ACK_PREFIX) && line.endsWith(ACK_SUFFIX);
}

/**
 * Whether the bytes a server sent after its last LF, before it closed, are a whole reply: an ack
 * with its ending, or a notice (a server that writes its last line and closes). Anything else was
 * cut short by the close (a server killed mid-write, a proxy closing behind it), and is not one.
 */
export function isWholeLastReply(text: string): boolean {
  return text.startsWith(NOTICE_PREFIX) || isAck(text);
}

/** Classifies one reply line from a server (line framing). */
export function classifyReply(line: string): Reply {
  if (isAck(line)) return { kind: "ack", text: line };
  if (line.startsWith(NOTICE_PREFIX)) return { kind: "notice", text: line.slice(NOTICE_PREFIX.length) };
  return { kind: "unexpected", text: line };
}
