// The PROXY protocol parser against HAProxy's doc/proxy-protocol.txt: its examples and its rules
// (v1 lines at most 107 bytes with CRLF, no leading zeros, UNKNOWN; the v2 signature, commands,
// families, the length that covers TLVs), then the properties a server relies on: any split of the
// input gives the same verdict and the same payload, every truncation waits, a byte that no valid
// header could have fails at once, and seeded random input never throws.
import { describe, expect, test } from "bun:test";
import { seededRandom } from "../harness/random.ts";
import { type ProxyHeader, ProxyHeaderParser, type ProxyHeaderResult } from "../src/protocol/proxy-header.ts";
import { proxyV2 as v2 } from "./helpers/proxy.ts";

const text = (s: string) => Buffer.from(s, "latin1");

const ipv4 = (s: string) => s.split(".").map(Number);
const port = (n: number) => [n >> 8, n & 0xff];
const ipv6 = (words: number[]) => words.flatMap((word) => [word >> 8, word & 0xff]);
const tcp4Body = [...ipv4("192.168.0.1"), ...ipv4("192.168.0.11"), ...port(56324), ...port(443)];
const tlvs = [0x04, 0x00, 0x03, 0xaa, 0xbb, 0xcc, 0x01, 0x00, 0x02, 0x68, 0x32];

/** What one connection's parser says of `input` cut at `cuts`: its verdict, and all the payload after the header. */
function feed(input: Uint8Array, cuts: number[] = []): { result: ProxyHeaderResult; payload: Buffer } {
  const parser = new ProxyHeaderParser();
  let result: ProxyHeaderResult = { kind: "incomplete" };
  const payload: Buffer[] = [];
  const bounds = [0, ...cuts, input.length];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const next = parser.push(input.subarray(bounds[i], bounds[i + 1]));
    result = next;
    if (next.kind === "header") payload.push(Buffer.from(next.rest));
  }
  return { result, payload: Buffer.concat(payload) };
}

const max6 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
const valid: Array<[string, Buffer, ProxyHeader]> = [
  [
    "v1 TCP4, the spec's example",
    text("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"),
    {
      version: 1,
      command: "PROXY",
      source: { address: "192.168.0.1", port: 56324 },
      destination: { address: "192.168.0.11", port: 443 },
    },
  ],
  [
    "v1 TCP4 at its longest (56 bytes)",
    text("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n"),
    {
      version: 1,
      command: "PROXY",
      source: { address: "255.255.255.255", port: 65535 },
      destination: { address: "255.255.255.255", port: 65535 },
    },
  ],
  [
    "v1 TCP6 at its longest (104 bytes)",
    text(`PROXY TCP6 ${max6} ${max6} 65535 65535\r\n`),
    {
      version: 1,
      command: "PROXY",
      source: { address: max6, port: 65535 },
      destination: { address: max6, port: 65535 },
    },
  ],
  [
    "v1 TCP6, compressed and IPv4-mapped",
    text("PROXY TCP6 ::ffff:10.0.0.1 2001:DB8::1 0 1\r\n"),
    {
      version: 1,
      command: "PROXY",
      source: { address: "10.0.0.1", port: 0 },
      destination: { address: "2001:db8::1", port: 1 },
    },
  ],
  ["v1 UNKNOWN, the short form", text("PROXY UNKNOWN\r\n"), { version: 1, command: "PROXY" }],
  [
    "v1 UNKNOWN, the worst case (107 bytes), the rest ignored",
    text(`PROXY UNKNOWN ${max6} ${max6} 65535 65535\r\n`),
    { version: 1, command: "PROXY" },
  ],
  [
    "v2 PROXY TCP over IPv4",
    v2(0x21, 0x11, tcp4Body),
    {
      version: 2,
      command: "PROXY",
      source: { address: "192.168.0.1", port: 56324 },
      destination: { address: "192.168.0.11", port: 443 },
    },
  ],
  [
    "v2 PROXY TCP over IPv6",
    v2(0x21, 0x21, [
      ...ipv6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]),
      ...ipv6([0, 0, 0, 0, 0, 0, 0, 1]),
      ...port(1),
      ...port(2),
    ]),
    {
      version: 2,
      command: "PROXY",
      source: { address: "2001:db8::1", port: 1 },
      destination: { address: "::1", port: 2 },
    },
  ],
  [
    "v2 PROXY TCP over IPv6, IPv4-mapped",
    v2(0x21, 0x21, [
      ...ipv6([0, 0, 0, 0, 0, 0xffff, 0x7f00, 2]),
      ...ipv6([0, 0, 0, 0, 0, 0, 0, 1]),
      ...port(9),
      ...port(9),
    ]),
    {
      version: 2,
      command: "PROXY",
      source: { address: "127.0.0.2", port: 9 },
      destination: { address: "::1", port: 9 },
    },
  ],
  [
    "v2 PROXY with TLVs, skipped by the length",
    v2(0x21, 0x11, [...tcp4Body, ...tlvs]),
    {
      version: 2,
      command: "PROXY",
      source: { address: "192.168.0.1", port: 56324 },
      destination: { address: "192.168.0.11", port: 443 },
    },
  ],
  ["v2 LOCAL (a health check), no addresses", v2(0x20, 0x00), { version: 2, command: "LOCAL" }],
  // "Receivers MUST always consider this field to skip the appropriate number of bytes".
  [
    "v2 LOCAL with addresses and TLVs, all skipped",
    v2(0x20, 0x11, [...tcp4Body, ...tlvs]),
    { version: 2, command: "LOCAL" },
  ],
  // "...discard the protocol block including the family which is ignored."
  ["v2 LOCAL with a family no PROXY may carry", v2(0x20, 0x10, tcp4Body), { version: 2, command: "LOCAL" }],
  // Families we do not serve fall back to the connection's own endpoints (the spec's UNSPEC rule).
  ["v2 PROXY UNSPEC", v2(0x21, 0x00), { version: 2, command: "PROXY" }],
  ["v2 PROXY UDP over IPv4", v2(0x21, 0x12, tcp4Body), { version: 2, command: "PROXY" }],
  ["v2 PROXY Unix stream", v2(0x21, 0x31, new Array(216).fill(0x41)), { version: 2, command: "PROXY" }],
  [
    "v2 PROXY with the longest length field",
    v2(0x21, 0x11, [...tcp4Body, ...new Array(65535 - 12).fill(7)]),
    {
      version: 2,
      command: "PROXY",
      source: { address: "192.168.0.1", port: 56324 },
      destination: { address: "192.168.0.11", port: 443 },
    },
  ],
];

const payload = text("GET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n\x0d\x0a\x00PROXY ");

describe("valid headers", () => {
  test.each(valid)("%s", (_name, header, expected) => {
    const { result, payload: after } = feed(Buffer.concat([header, payload]));
    expect(result).toMatchObject({ kind: "header", header: expected });
    expect(after).toEqual(payload);
  });

  test.each(valid.filter(([, header]) => header.length < 1000))(
    "%s: any split gives the same header and payload",
    (_n, header, expected) => {
      const input = Buffer.concat([header, payload]);
      for (let cut = 0; cut <= input.length; cut++) {
        const { result, payload: after } = feed(input, [cut]);
        expect(result.kind === "header" && result.header).toEqual(expected);
        expect(after).toEqual(payload);
      }
      // One byte per read, the worst a relay can do.
      const { result, payload: after } = feed(
        input,
        Array.from({ length: input.length - 1 }, (_, i) => i + 1),
      );
      expect(result.kind === "header" && result.header).toEqual(expected);
      expect(after).toEqual(payload);
    },
  );

  test.each(valid)("%s: every truncation waits for more", (_name, header) => {
    const step = header.length > 1000 ? 997 : 1;
    for (let length = 0; length < header.length; length += step) {
      expect(feed(header.subarray(0, length)).result.kind).toBe("incomplete");
    }
  });

  test("after the header every read is payload, untouched", () => {
    const parser = new ProxyHeaderParser();
    expect(parser.push(text("PROXY UNKNOWN\r\n")).kind).toBe("header");
    const later = parser.push(text("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"));
    expect(later.kind === "header" && Buffer.from(later.rest).toString()).toBe("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n");
  });
});

/** Each invalid input, the index of the byte where it must fail, and why. */
const invalid: Array<[string, Buffer, number, string]> = [
  ["a line of our own protocol", text("hello\n"), 0, "not a PROXY protocol header"],
  ["an HTTP request", text("GET / HTTP/1.1\r\n"), 0, "not a PROXY protocol header"],
  ["lower case", text("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), 0, "not a PROXY protocol header"],
  ["PROXY misspelt", text("PROXI TCP4"), 4, "not a PROXY protocol header"],
  ["no space after PROXY", text("PROXYTCP4"), 5, "not a PROXY protocol header"],
  ["an unknown protocol", text("PROXY TCP5 1.2.3.4"), 9, "unknown protocol"],
  ["two spaces", text("PROXY  TCP4"), 6, "unknown protocol"],
  ["UNKNOWN with more letters", text("PROXY UNKNOWNX\r\n"), 13, "unknown protocol"],
  ["no protocol", text("PROXY\r\n"), 6, "no protocol"],
  ["a leading zero in an address", text("PROXY TCP4 010.0.0.1 1.2.3.4 1 2\r\n"), 12, "bad address '01'"],
  ["an address part over 255", text("PROXY TCP4 1.256.0.1"), 15, "bad address"],
  ["an IPv6 address for TCP4", text("PROXY TCP4 ::1 ::1 1 2\r\n"), 11, "bad address"],
  ["an IPv4 address for TCP6", text("PROXY TCP6 1.2.3.4 ::1 1 2\r\n"), 18, "bad address '1.2.3.4'"],
  ["a bad IPv6 address", text("PROXY TCP6 1:::2 ::1 1 2\r\n"), 14, "bad address"],
  ["a leading zero in a port", text("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n"), 28, "bad port"],
  ["a port over 65535", text("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"), 31, "bad port"],
  ["a missing port", text("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"), 29, "missing fields"],
  ["an extra field", text("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"), 30, "too many fields"],
  ["a bare LF", text("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"), 30, "bare LF"],
  ["a CR without LF", text("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n"), 31, "CR not followed by LF"],
  ["a line of 108 bytes", text(`PROXY UNKNOWN ${max6} ${max6} 65535 655350\r\n`), 105, "longer than 107 bytes"],
  ["the v2 signature broken", Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x01]), 4, "not a PROXY protocol header"],
  ["v2 version 1", v2(0x11, 0x11, tcp4Body), 12, "version 1, not 2"],
  ["v2 version 3", v2(0x31, 0x11, tcp4Body), 12, "version 3, not 2"],
  ["v2 command 2", v2(0x22, 0x11, tcp4Body), 12, "unknown command 2"],
  ["v2 family 4", v2(0x21, 0x41, tcp4Body), 13, "unknown address family or protocol 0x41"],
  ["v2 protocol 3", v2(0x21, 0x13, tcp4Body), 13, "unknown address family or protocol 0x13"],
  // Combinations the spec does not list: an address family over no transport, a transport for no family.
  ["v2 IPv4 over UNSPEC", v2(0x21, 0x10, tcp4Body), 13, "unknown address family or protocol 0x10"],
  ["v2 Unix over UNSPEC", v2(0x21, 0x30, tcp4Body), 13, "unknown address family or protocol 0x30"],
  ["v2 STREAM with no family", v2(0x21, 0x01, tcp4Body), 13, "unknown address family or protocol 0x01"],
  ["v2 IPv4 addresses cut short", v2(0x21, 0x11, tcp4Body.slice(0, 11)), 15, "11 address bytes; its family needs 12"],
  ["v2 IPv6 addresses cut short", v2(0x21, 0x21, tcp4Body), 15, "12 address bytes; its family needs 36"],
];

describe("invalid headers", () => {
  test.each(invalid)("%s fails at its bad byte", (_name, input, failsAt, reason) => {
    const parser = new ProxyHeaderParser();
    for (let i = 0; i < input.length; i++) {
      const result = parser.push(input.subarray(i, i + 1));
      if (i < failsAt) expect(result.kind).toBe("incomplete");
      else {
        expect(result.kind).toBe("invalid");
        expect(result.kind === "invalid" && result.reason).toContain(reason);
        break;
      }
    }
    // Whole, or in any two pieces, the verdict is the same.
    for (let cut = 0; cut <= input.length; cut++) {
      const { result } = feed(input, [cut]);
      expect(result.kind === "invalid" && result.reason).toContain(reason);
    }
  });

  test("invalid stays invalid", () => {
    const parser = new ProxyHeaderParser();
    expect(parser.push(text("x")).kind).toBe("invalid");
    expect(parser.push(text("PROXY UNKNOWN\r\n")).kind).toBe("invalid");
  });
});

describe("fuzz (seeded)", () => {
  const seeds = valid.filter(([, header]) => header.length < 1000).map(([, header]) => header);

  /** Random bytes, a valid header with random bytes changed, or a valid start with random bytes after it. */
  function input(next: () => number): Buffer {
    const pick = next();
    const randomBytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(next() * 256)));
    if (pick < 0.3) return randomBytes(Math.floor(next() * 300));
    const seed = seeds[Math.floor(next() * seeds.length)]!;
    if (pick < 0.7) {
      const mutated = Buffer.concat([seed, randomBytes(10)]);
      for (let n = 1 + Math.floor(next() * 3); n > 0; n--)
        mutated[Math.floor(next() * mutated.length)] = Math.floor(next() * 256);
      return mutated;
    }
    return Buffer.concat([seed.subarray(0, Math.floor(next() * seed.length)), randomBytes(Math.floor(next() * 120))]);
  }

  test("20,000 inputs: no throw, one verdict whatever the split, the payload is the input after the header", () => {
    const { next } = seededRandom(0x50524f58);
    const counts = { incomplete: 0, header: 0, invalid: 0 };
    for (let round = 0; round < 20_000; round++) {
      const bytes = input(next);
      const whole = feed(bytes);
      const cuts = Array.from({ length: Math.floor(next() * 4) }, () => Math.floor(next() * (bytes.length + 1))).sort(
        (a, b) => a - b,
      );
      const split = feed(bytes, cuts);
      expect(split.result.kind).toBe(whole.result.kind);
      if (whole.result.kind === "invalid") expect(split.result).toEqual(whole.result);
      if (whole.result.kind === "header") {
        expect(split.result.kind === "header" && split.result.header).toEqual(whole.result.header);
        expect(split.payload).toEqual(whole.payload);
        // The payload is what follows the header in the input, byte for byte.
        expect(bytes.subarray(bytes.length - whole.payload.length)).toEqual(whole.payload);
      }
      counts[whole.result.kind]++;
    }
    // The generator reaches every verdict, so the properties above were tested on each.
    expect(counts.incomplete).toBeGreaterThan(100);
    expect(counts.header).toBeGreaterThan(100);
    expect(counts.invalid).toBeGreaterThan(100);
  });
});
