// IP addresses and CIDR blocks, for the rules that look at a peer's address (--allow, --deny,
// --proxy-from, the per-address cap) and for the PROXY header's addresses. Pure: no sockets, no
// lookups. IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`, what a dual-stack `::` listener
// reports for an IPv4 client) are the IPv4 address they carry, so one rule covers both forms.

export interface IpAddress {
  readonly family: 4 | 6;
  /** 4 or 16 bytes, in network order. */
  readonly bytes: Uint8Array;
}

export interface Cidr {
  readonly address: IpAddress;
  /** How many leading bits must match: 0..32 for IPv4, 0..128 for IPv6. */
  readonly prefix: number;
}

/** A CIDR block or address given by the operator is not one; `message` is one plain sentence. */
export class CidrError extends Error {
  override name = "CidrError";
}

const IPV4_PART = /^(0|[1-9]\d{0,2})$/;
const IPV6_GROUP = /^[0-9a-f]{1,4}$/i;

/**
 * Dotted-quad IPv4, strictly: four decimal parts 0..255, no leading zeros (`010` could be read as
 * octal by other tools; we refuse to guess).
 */
export function parseIpv4(text: string): IpAddress | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!;
    if (!IPV4_PART.test(part) || Number(part) > 255) return undefined;
    bytes[i] = Number(part);
  }
  return { family: 4, bytes };
}

/** IPv6 text (RFC 4291: groups, at most one `::`, an optional dotted IPv4 tail), without a zone. */
export function parseIpv6(text: string): IpAddress | undefined {
  if (text.length < 2 || text.length > 45) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const compressed = halves.length === 2;
  const head = wordsOf(halves[0]!, !compressed);
  const tail = compressed ? wordsOf(halves[1]!, true) : [];
  if (!head || !tail) return undefined;
  const count = head.length + tail.length;
  if (compressed ? count > 7 : count !== 8) return undefined;
  const words = [...head, ...new Array<number>(8 - count).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  words.forEach((word, i) => {
    bytes[2 * i] = word >> 8;
    bytes[2 * i + 1] = word & 0xff;
  });
  return { family: 6, bytes };
}

/** The 16-bit words of colon-separated groups; the last may be an IPv4 address (two words). */
function wordsOf(text: string, mayEndInIpv4: boolean): number[] | undefined {
  if (text === "") return [];
  const groups = text.split(":");
  const words: number[] = [];
  for (const [i, group] of groups.entries()) {
    if (IPV6_GROUP.test(group)) {
      words.push(Number.parseInt(group, 16));
      continue;
    }
    const ipv4 = mayEndInIpv4 && i === groups.length - 1 ? parseIpv4(group) : undefined;
    if (!ipv4) return undefined;
    const [a, b, c, d] = ipv4.bytes;
    words.push((a! << 8) | b!, (c! << 8) | d!);
  }
  return words;
}

/** An IPv4 or IPv6 address, IPv4-mapped IPv6 given back as IPv4; undefined if `text` is neither. */
export function parseIp(text: string): IpAddress | undefined {
  const address = text.includes(":") ? parseIpv6(text) : parseIpv4(text);
  return address && unmapIpv4(address);
}

/** `::ffff:a.b.c.d` as `a.b.c.d`; any other address as it is. */
export function unmapIpv4(address: IpAddress): IpAddress {
  if (address.family === 4 || !isIpv4Mapped(address.bytes)) return address;
  return { family: 4, bytes: address.bytes.slice(12) };
}

function isIpv4Mapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/** The canonical text of an address: dotted IPv4; IPv6 lower case with the longest zero run as `::` (RFC 5952). */
export function formatIp(address: IpAddress): string {
  if (address.family === 4) return address.bytes.join(".");
  const words = Array.from({ length: 8 }, (_, i) => (address.bytes[2 * i]! << 8) | address.bytes[2 * i + 1]!);
  // The longest run of two or more zero words (the first of equals) becomes "::".
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let end = i;
    while (end < 8 && words[end] === 0) end++;
    if (end - i > bestLength) {
      bestStart = i;
      bestLength = end - i;
    }
    i = end;
  }
  const hex = words.map((word) => word.toString(16));
  if (bestStart === -1) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}

/**
 * `10.0.0.0/8`, `2001:db8::/32`, or a bare address (one host: /32 or /128). An IPv4-mapped block
 * (`::ffff:10.0.0.0/104`) is the IPv4 block it covers. Bits set past the prefix are refused (a
 * typo more often than not: `10.1.2.3/8` names 10.0.0.0/8, and says so).
 */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf("/");
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const parsed = addressText.includes(":") ? parseIpv6(addressText) : parseIpv4(addressText);
  if (!parsed) throw new CidrError(`'${text}' is not an IP address or CIDR block (like 10.0.0.0/8 or 2001:db8::/32)`);
  const bits = parsed.bytes.length * 8;
  let prefix = bits;
  if (slash !== -1) {
    const prefixText = text.slice(slash + 1);
    if (!/^(0|[1-9]\d*)$/.test(prefixText) || Number(prefixText) > bits) {
      throw new CidrError(`'${text}' has a bad prefix length: it must be 0 to ${bits}`);
    }
    prefix = Number(prefixText);
  }
  let address: IpAddress = parsed;
  if (parsed.family === 6 && isIpv4Mapped(parsed.bytes) && prefix >= 96) {
    address = unmapIpv4(parsed);
    prefix -= 96;
  }
  const network = maskTo(address, prefix);
  if (!sameBytes(network.bytes, address.bytes)) {
    throw new CidrError(
      `'${text}' has bits set past its prefix: did you mean ${formatCidr({ address: network, prefix })}?`,
    );
  }
  return { address, prefix };
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIp(cidr.address)}/${cidr.prefix}`;
}

/** Whether `address` is inside the block (an IPv4 address is never inside an IPv6 block, and the reverse). */
export function cidrContains(cidr: Cidr, address: IpAddress): boolean {
  if (cidr.address.family !== address.family) return false;
  const whole = cidr.prefix >> 3;
  for (let i = 0; i < whole; i++) if (cidr.address.bytes[i] !== address.bytes[i]) return false;
  const rest = cidr.prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (cidr.address.bytes[whole]! & mask) === (address.bytes[whole]! & mask);
}

/** The first block of `cidrs` that holds `address`, if any. */
export function findCidr(cidrs: readonly Cidr[], address: IpAddress): Cidr | undefined {
  return cidrs.find((cidr) => cidrContains(cidr, address));
}

/** Where only this machine can connect from. */
export const LOOPBACK_BLOCKS: readonly string[] = ["127.0.0.0/8", "::1"];

/**
 * Whether `address` is this machine's own. The blocks are parsed on first use, not when the module
 * loads: the client loads this module too, and its first regular expression run costs a one-shot
 * `client -m hi` a fifth of a millisecond.
 */
export function isLoopback(address: IpAddress): boolean {
  loopback ??= LOOPBACK_BLOCKS.map(parseCidr);
  return findCidr(loopback, address) !== undefined;
}
let loopback: readonly Cidr[] | undefined;

function maskTo(address: IpAddress, prefix: number): IpAddress {
  const bytes = address.bytes.slice();
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - 8 * i));
    bytes[i] = bytes[i]! & (0xff << (8 - keep));
  }
  return { family: address.family, bytes };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
