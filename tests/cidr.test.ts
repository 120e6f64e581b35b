// Addresses and CIDR blocks as the operator writes them (--allow, --deny, --proxy-from) and as
// sockets report them: what is accepted, what is refused with which sentence, and what matches.
import { describe, expect, test } from "bun:test";
import { CidrError, cidrContains, formatCidr, formatIp, parseCidr, parseIp } from "../src/net/cidr.ts";

describe("parseCidr", () => {
  test.each([
    ["10.0.0.0/8", "10.0.0.0/8"],
    ["127.0.0.1", "127.0.0.1/32"],
    ["0.0.0.0/0", "0.0.0.0/0"],
    ["192.168.1.128/25", "192.168.1.128/25"],
    ["::1", "::1/128"],
    ["::", "::/128"],
    ["::/0", "::/0"],
    ["2001:db8::/32", "2001:db8::/32"],
    ["2001:DB8:0:0:0:0:0:1", "2001:db8::1/128"],
    ["fe80::/10", "fe80::/10"],
    ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8/128"],
    ["1:0:0:2:0:0:0:3", "1:0:0:2::3/128"],
    // IPv4-mapped blocks are the IPv4 blocks they cover.
    ["::ffff:127.0.0.1", "127.0.0.1/32"],
    ["::ffff:10.0.0.0/104", "10.0.0.0/8"],
    ["::ffff:0:0/96", "0.0.0.0/0"],
  ])("%s is %s", (text, canonical) => {
    expect(formatCidr(parseCidr(text))).toBe(canonical);
  });

  test.each([
    ["", "is not an IP address or CIDR block"],
    ["10.0.0.0/", "bad prefix length: it must be 0 to 32"],
    ["10.0.0.0/33", "bad prefix length: it must be 0 to 32"],
    ["10.0.0.0/08", "bad prefix length"],
    ["10.0.0.0/-1", "bad prefix length"],
    ["::/129", "bad prefix length: it must be 0 to 128"],
    ["10.0.0", "is not an IP address"],
    ["10.0.0.0.0", "is not an IP address"],
    ["256.0.0.0", "is not an IP address"],
    ["010.0.0.1", "is not an IP address"],
    ["10.0.0.1 ", "is not an IP address"],
    ["localhost", "is not an IP address"],
    ["1:2:3:4:5:6:7", "is not an IP address"],
    ["1:2:3:4:5:6:7:8:9", "is not an IP address"],
    ["1::2::3", "is not an IP address"],
    [":::", "is not an IP address"],
    ["12345::", "is not an IP address"],
    ["fe80::1%eth0", "is not an IP address"],
    ["1.2.3.4::", "is not an IP address"],
    ["10.1.2.3/8", "bits set past its prefix: did you mean 10.0.0.0/8?"],
    ["2001:db8::1/32", "did you mean 2001:db8::/32?"],
  ])("%p is refused: %s", (text, sentence) => {
    expect(() => parseCidr(text)).toThrow(CidrError);
    expect(() => parseCidr(text)).toThrow(sentence);
  });
});

describe("matching", () => {
  test.each([
    ["10.0.0.0/8", "10.255.1.2", true],
    ["10.0.0.0/8", "11.0.0.0", false],
    ["192.168.1.128/25", "192.168.1.127", false],
    ["192.168.1.128/25", "192.168.1.255", true],
    ["127.0.0.1", "127.0.0.1", true],
    ["127.0.0.1", "127.0.0.2", false],
    ["0.0.0.0/0", "203.0.113.9", true],
    ["::1", "::1", true],
    ["::1", "::2", false],
    ["2001:db8::/32", "2001:db8:ffff::1", true],
    ["2001:db8::/32", "2001:db9::1", false],
    ["fe80::/10", "febf::1", true],
    ["fe80::/10", "fec0::1", false],
    // What a dual-stack `::` listener reports for an IPv4 client is matched as IPv4.
    ["127.0.0.0/8", "::ffff:127.0.0.2", true],
    ["127.0.0.3/32", "::ffff:127.0.0.3", true],
    ["::ffff:127.0.0.3", "127.0.0.3", true],
    // The families never match each other.
    ["0.0.0.0/0", "::1", false],
    ["::/0", "127.0.0.1", false],
  ])("%s holds %s: %p", (block, address, expected) => {
    expect(cidrContains(parseCidr(block), parseIp(address)!)).toBe(expected);
  });
});

describe("parseIp and formatIp", () => {
  test.each([
    ["127.0.0.1", "127.0.0.1"],
    ["::ffff:127.0.0.1", "127.0.0.1"],
    ["::FFFF:7f00:1", "127.0.0.1"],
    ["0:0:0:0:0:0:0:1", "::1"],
    ["2001:0db8:0000:0000:0001:0000:0000:0001", "2001:db8::1:0:0:1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    ["::", "::"],
    ["1::", "1::"],
    // One zero group is not shortened to "::" (RFC 5952).
    ["::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"],
    ["64:ff9b::192.0.2.33", "64:ff9b::c000:221"],
  ])("%s reads as %s", (text, canonical) => {
    expect(formatIp(parseIp(text)!)).toBe(canonical);
  });

  test.each(["", "1.2.3", "1.2.3.04", "::g", "1:2:3:4:5:6:7:8:9", "::1.2.3", "[::1]"])("%p is no address", (text) => {
    expect(parseIp(text)).toBeUndefined();
  });
});
