// The PROXY protocol header (HAProxy's doc/proxy-protocol.txt), versions 1 and 2, as a load
// balancer puts it in front of a connection to say whom it relays. Written by hand because the
// parsers on npm leak v2 TLV bytes into the payload or reject `PROXY UNKNOWN`.
//
// Incremental: the header may arrive split over any number of reads, and the bytes after it in
// the read that completes it are handed back untouched (they are the connection's first payload).
// Strict, as the spec demands: nothing is guessed, and a byte that no valid header could have at
// its place fails at once instead of waiting for more (so a client that speaks our line protocol
// to a PROXY listener is told at its first byte, not after a timeout).
import { formatIp, type IpAddress, parseIpv4, parseIpv6, unmapIpv4 } from "../net/cidr.ts";

export interface ProxyEndpoint {
  /** Canonical text; an IPv4-mapped IPv6 address is given as the IPv4 address it carries. */
  address: string;
  port: number;
}

export interface ProxyHeader {
  version: 1 | 2;
  /** PROXY: relayed for a client. LOCAL (v2 only): the proxy's own connection, a health check. */
  command: "PROXY" | "LOCAL";
  /**
   * The client the proxy relays. Undefined where the header names none that we serve (LOCAL,
   * v1 UNKNOWN, v2 UNSPEC, UDP or Unix addresses): the connection's own endpoints stand, as the
   * spec says.
   */
  source?: ProxyEndpoint;
  destination?: ProxyEndpoint;
}

export type ProxyHeaderResult =
  | { kind: "incomplete" }
  | { kind: "header"; header: ProxyHeader; rest: Uint8Array }
  | { kind: "invalid"; reason: string };

/**
 * A v1 header for a TCP connection from `source` to `destination`, as HAProxy's `send-proxy`
 * writes it (`client bench --send-proxy` starts each connection with one).
 */
export function formatProxyV1(source: ProxyEndpoint, destination: ProxyEndpoint): string {
  const family = source.address.includes(":") ? "TCP6" : "TCP4";
  return `PROXY ${family} ${source.address} ${destination.address} ${source.port} ${destination.port}\r\n`;
}

/** The longest v1 line, CRLF included ("PROXY UNKNOWN" with two full IPv6 addresses and ports). */
export const V1_MAX_BYTES = 107;
export const V2_SIGNATURE = Uint8Array.of(0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a);
/** Signature, version/command, family/protocol and the 2-byte length. */
const V2_FIXED_BYTES = 16;

const CR = 0x0d;
const LF = 0x0a;
const SPACE = 0x20;
const INCOMPLETE: ProxyHeaderResult = { kind: "incomplete" };

/** Address bytes a v2 PROXY header must carry for its family and protocol byte. */
const V2_ADDRESS_BYTES = new Map([
  [0x11, 12], // TCP over IPv4
  [0x12, 12], // UDP over IPv4
  [0x21, 36], // TCP over IPv6
  [0x22, 36], // UDP over IPv6
  [0x31, 216], // Unix stream
  [0x32, 216], // Unix datagram
]);

/** Reads one connection's PROXY header from its first reads; one parser per connection. */
export class ProxyHeaderParser {
  private buffer = new Uint8Array(V1_MAX_BYTES);
  private length = 0;
  private version: 1 | 2 | undefined;
  /** v2: the whole header's length, once its length field has arrived. */
  private v2Total = 0;
  private v1Complete = false;
  /** v1: the fields whole so far, and the one being read. */
  private v1Fields: string[] = [];
  private v1Field = "";
  private verdict: Exclude<ProxyHeaderResult, { kind: "incomplete" }> | undefined;

  /**
   * Takes the next read. Once a header is found, every later read is payload (`rest` is all of
   * it); once the input is invalid, it stays invalid.
   */
  push(chunk: Uint8Array): ProxyHeaderResult {
    if (this.verdict?.kind === "header") return { ...this.verdict, rest: chunk };
    if (this.verdict) return this.verdict;
    let offset = 0;
    while (offset < chunk.length) {
      if (this.version === 2 && this.length >= V2_FIXED_BYTES) {
        // Addresses and TLVs: taken in bulk and read once whole (their length is known).
        const take = Math.min(this.v2Total - this.length, chunk.length - offset);
        this.buffer.set(chunk.subarray(offset, offset + take), this.length);
        this.length += take;
        offset += take;
      } else {
        const problem = this.takeByte(chunk[offset++]!);
        if (problem) return this.settle({ kind: "invalid", reason: problem });
      }
      const header = this.complete();
      if (typeof header === "string") return this.settle({ kind: "invalid", reason: header });
      if (header) return this.settle({ kind: "header", header, rest: chunk.subarray(offset) });
    }
    return INCOMPLETE;
  }

  private settle<T extends Exclude<ProxyHeaderResult, { kind: "incomplete" }>>(verdict: T): T {
    this.verdict = verdict;
    return verdict;
  }

  /** Stores one byte of the fixed part; returns why no valid header can go on this way. */
  private takeByte(byte: number): string | undefined {
    if (this.length === 0) {
      if (byte === 0x50) this.version = 1;
      else if (byte === V2_SIGNATURE[0]) this.version = 2;
      else return "not a PROXY protocol header";
    }
    const previous = this.length > 0 ? this.buffer[this.length - 1] : undefined;
    this.buffer[this.length++] = byte;
    return this.version === 1 ? this.checkV1Byte(byte, previous) : this.checkV2Byte(byte);
  }

  private checkV1Byte(byte: number, previous: number | undefined): string | undefined {
    if (byte === LF) {
      if (previous !== CR) return "v1 header ends in a bare LF, not CRLF";
      this.v1Complete = true;
      return undefined;
    }
    if (previous === CR) return "v1 header has a CR not followed by LF";
    // The line must still fit, CRLF included.
    if (this.length + (byte === CR ? 1 : 2) > V1_MAX_BYTES) return `v1 header is longer than ${V1_MAX_BYTES} bytes`;
    if (byte === CR) return undefined;
    // Each byte is checked against its field alone: the fields before it were checked whole when
    // their space came, so a header costs one pass however it was split.
    const index = this.v1Fields.length;
    if (byte !== SPACE) {
      this.v1Field += String.fromCharCode(byte);
      return v1FieldProblem(index, this.v1Field, false, this.v1Fields[1]);
    }
    const problem = v1FieldProblem(index, this.v1Field, true, this.v1Fields[1]);
    this.v1Fields.push(this.v1Field);
    this.v1Field = "";
    // After the destination port only CRLF may come.
    if (!problem && index === 5 && this.v1Fields[1] !== "UNKNOWN") return "v1 header has too many fields";
    return problem;
  }

  private checkV2Byte(byte: number): string | undefined {
    const at = this.length - 1;
    if (at < V2_SIGNATURE.length) return byte === V2_SIGNATURE[at] ? undefined : "not a PROXY protocol header";
    if (at === 12) {
      if (byte >> 4 !== 2) return `v2 header has version ${byte >> 4}, not 2`;
      if ((byte & 0x0f) > 1) return `v2 header has an unknown command ${byte & 0x0f}`;
    }
    // The spec lists UNSPEC (0x00) and six family/protocol pairs, and tells receivers to reject any
    // other: a PROXY with AF_INET over an unspecified transport (0x10) is as broken as one with
    // family 4. LOCAL discards the block, family included, so there only the nibbles are checked.
    const listed = byte === 0 || V2_ADDRESS_BYTES.has(byte);
    if (at === 13 && (byte >> 4 > 3 || (byte & 0x0f) > 2 || (this.isV2Proxy && !listed))) {
      return `v2 header has an unknown address family or protocol 0x${byte.toString(16).padStart(2, "0")}`;
    }
    if (at === 15) {
      const addressBytes = (this.buffer[14]! << 8) | byte;
      const needed = this.isV2Proxy ? (V2_ADDRESS_BYTES.get(this.buffer[13]!) ?? 0) : 0;
      if (addressBytes < needed) return `v2 header has ${addressBytes} address bytes; its family needs ${needed}`;
      this.v2Total = V2_FIXED_BYTES + addressBytes;
      if (this.v2Total > this.buffer.length) {
        const grown = new Uint8Array(this.v2Total);
        grown.set(this.buffer.subarray(0, this.length));
        this.buffer = grown;
      }
    }
    return undefined;
  }

  private get isV2Proxy(): boolean {
    return (this.buffer[12]! & 0x0f) === 1;
  }

  /** The header once all of it is here, why it is invalid, or undefined while bytes are missing. */
  private complete(): ProxyHeader | string | undefined {
    if (this.version === 1) {
      if (!this.v1Complete) return undefined;
      return readV1([...this.v1Fields, this.v1Field]);
    }
    if (this.length < V2_FIXED_BYTES || this.length < this.v2Total) return undefined;
    return this.readV2();
  }

  /** TLVs after the addresses are skipped: the length field covers them. */
  private readV2(): ProxyHeader {
    if (!this.isV2Proxy) return { version: 2, command: "LOCAL" };
    const family = this.buffer[13]!;
    // TCP over IPv4 or IPv6; anything else falls back to the connection's own endpoints.
    const addressLength = family === 0x11 ? 4 : family === 0x21 ? 16 : 0;
    if (addressLength === 0) return { version: 2, command: "PROXY" };
    const at = V2_FIXED_BYTES;
    const ports = at + 2 * addressLength;
    const endpoint = (offset: number, portOffset: number): ProxyEndpoint => ({
      address: formatIp(
        unmapIpv4({
          family: addressLength === 4 ? 4 : 6,
          bytes: this.buffer.slice(offset, offset + addressLength),
        } satisfies IpAddress),
      ),
      port: (this.buffer[portOffset]! << 8) | this.buffer[portOffset + 1]!,
    });
    return {
      version: 2,
      command: "PROXY",
      source: endpoint(at, ports),
      destination: endpoint(at + addressLength, ports + 2),
    };
  }
}

const PROTOCOLS = ["TCP4", "TCP6", "UNKNOWN"];

/**
 * Why field `index` of a v1 line cannot be `field` (whole, or the start of it), given the
 * protocol field before it; undefined while it can.
 */
function v1FieldProblem(
  index: number,
  field: string,
  whole: boolean,
  protocol: string | undefined,
): string | undefined {
  if (index === 0)
    return (whole ? field === "PROXY" : "PROXY".startsWith(field)) ? undefined : "not a PROXY protocol header";
  if (index === 1) {
    const known = whole ? PROTOCOLS.includes(field) : PROTOCOLS.some((name) => name.startsWith(field));
    return known ? undefined : `v1 header has an unknown protocol '${field}'`;
  }
  // UNKNOWN: the receiver must ignore the rest of the line.
  if (protocol === "UNKNOWN") return undefined;
  if (index > 5) return "v1 header has too many fields";
  const fits = index < 4 ? addressFits(field, protocol === "TCP4" ? 4 : 6, whole) : portFits(field, whole);
  return fits ? undefined : `v1 header has a bad ${index < 4 ? "address" : "port"} '${field}'`;
}

/** The fields of a whole v1 line (split at its spaces, CRLF taken off): the header, or why it is not one. */
function readV1(fields: string[]): ProxyHeader | string {
  for (const [index, field] of fields.entries()) {
    const problem = v1FieldProblem(index, field, true, fields[1]);
    if (problem) return problem;
  }
  if (fields.length < 2) return "v1 header has no protocol";
  if (fields[1] === "UNKNOWN") return { version: 1, command: "PROXY" };
  if (fields.length < 6) return "v1 header is missing fields";
  const [, protocol, source, destination, sourcePort, destinationPort] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const family = protocol === "TCP4" ? 4 : 6;
  return {
    version: 1,
    command: "PROXY",
    source: { address: canonical(source, family), port: Number(sourcePort) },
    destination: { address: canonical(destination, family), port: Number(destinationPort) },
  };
}

/** Whether an address field (or the start of one) can be an address of the family. */
function addressFits(field: string, family: 4 | 6, whole: boolean): boolean {
  if (whole) return (family === 4 ? parseIpv4(field) : parseIpv6(field)) !== undefined;
  return family === 4
    ? startsDottedQuad(field)
    : field.length <= 45 && /^[0-9a-fA-F:.]*$/.test(field) && !field.includes(":::");
}

/** The start of a dotted quad: at most four parts 0..255, no leading zeros (a loop: it runs per byte). */
function startsDottedQuad(field: string): boolean {
  let parts = 1;
  let digits = 0;
  let value = 0;
  for (let i = 0; i < field.length; i++) {
    const code = field.charCodeAt(i);
    if (code === 0x2e) {
      if (digits === 0 || ++parts > 4) return false;
      digits = 0;
      value = 0;
      continue;
    }
    if (code < 0x30 || code > 0x39 || (digits === 1 && value === 0)) return false;
    value = value * 10 + code - 0x30;
    digits++;
    if (value > 255) return false;
  }
  return true;
}

/** Whether a port field (or the start of one) can be a port: decimal 0..65535, no leading zeros. */
function portFits(field: string, whole: boolean): boolean {
  if (whole && field === "") return false;
  if (field.length > 1 && field.charCodeAt(0) === 0x30) return false;
  for (let i = 0; i < field.length; i++) {
    const code = field.charCodeAt(i);
    if (code < 0x30 || code > 0x39) return false;
  }
  return field.length <= 5 && Number(field) <= 65535;
}

function canonical(text: string, family: 4 | 6): string {
  const address = family === 4 ? parseIpv4(text) : parseIpv6(text);
  return formatIp(unmapIpv4(address!));
}
