// PROXY protocol headers for tests, built from HAProxy's doc/proxy-protocol.txt byte by byte (not
// with the parser under test), as a load balancer would send them.

export const V2_SIGNATURE = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];

/** v1: `PROXY TCP4|TCP6 <source> <destination> <source port> <destination port>\r\n`. */
export function proxyV1(source: string, sourcePort: number, destination?: string, destinationPort = 12345): string {
  const ipv6 = source.includes(":");
  const to = destination ?? (ipv6 ? "::1" : "127.0.0.1");
  return `PROXY ${ipv6 ? "TCP6" : "TCP4"} ${source} ${to} ${sourcePort} ${destinationPort}\r\n`;
}

/** v2 with a version/command byte, a family/protocol byte, and the block the length covers. */
export function proxyV2(verCmd: number, family: number, body: number[] = []): Buffer {
  return Buffer.from([...V2_SIGNATURE, verCmd, family, body.length >> 8, body.length & 0xff, ...body]);
}

/** v2 PROXY for TCP over IPv4, followed by `tlvs` (skipped by the receiver). */
export function proxyV2Tcp4(source: string, sourcePort: number, tlvs: number[] = []): Buffer {
  const ipv4 = (address: string) => address.split(".").map(Number);
  const port = (n: number) => [n >> 8, n & 0xff];
  return proxyV2(0x21, 0x11, [...ipv4(source), ...ipv4("127.0.0.1"), ...port(sourcePort), ...port(12345), ...tlvs]);
}

/** v2 LOCAL, as HAProxy's `tcp-check connect default` sends it for a health check. */
export const PROXY_V2_LOCAL = proxyV2(0x20, 0x00);
