// --proxy-protocol: the stage that reads the PROXY header a load balancer sends before its
// client's bytes. Only trusted sources (--proxy-from) may send one: anyone else could claim any
// address. The client the header names is the peer from then on, everywhere (logs, --allow and
// --deny, the per-address cap); a LOCAL header (a health check) keeps the proxy's own address.
import { formatAddress } from "../net/address.ts";
import { type Cidr, findCidr, parseIp } from "../net/cidr.ts";
import { escapeForTerminal } from "../output/escape.ts";
import { notices } from "../protocol/messages.ts";
import { ProxyHeaderParser } from "../protocol/proxy-header.ts";
import type { Rejection } from "./admission.ts";
import type { SocketStage } from "./socket-handlers.ts";

export interface ProxyStageOptions {
  /** Who may send a header. */
  proxyFrom: readonly Cidr[];
  /** How long a trusted source has to send the whole header. */
  proxyHeaderTimeoutMs: number;
}

const untrusted: Rejection = { reason: "proxy", notice: notices.accessDenied, detail: "is not a trusted proxy" };

function badHeader(why: string): Rejection {
  // The reason may quote the client's bytes: escaped, so a header cannot write to the operator's terminal.
  const detail = `sent a bad PROXY protocol header: ${escapeForTerminal(why)}`;
  return { reason: "proxy", notice: notices.badProxyHeader, detail };
}

export function proxyProtocolStage({ proxyFrom, proxyHeaderTimeoutMs }: ProxyStageOptions): SocketStage {
  return {
    // At open, before the server's limits: an untrusted source is denied even when the server is full.
    screen(peer) {
      const address = peer.address === undefined ? undefined : parseIp(peer.address);
      return address && findCidr(proxyFrom, address) ? undefined : untrusted;
    },
    // screen() has let only trusted sources this far.
    start(_socket, peer, done) {
      const parser = new ProxyHeaderParser();
      const timer = setTimeout(
        () => done({ rejection: badHeader(`no complete header within ${proxyHeaderTimeoutMs / 1000} s`) }),
        proxyHeaderTimeoutMs,
      );
      return {
        data(chunk) {
          const result = parser.push(chunk);
          if (result.kind === "incomplete") return;
          clearTimeout(timer);
          if (result.kind === "invalid") return done({ rejection: badHeader(result.reason) });
          const source = result.header.source;
          const rest = Buffer.from(result.rest.buffer, result.rest.byteOffset, result.rest.byteLength);
          if (!source) return done({ peer, rest });
          done({
            peer: { name: formatAddress(source.address, source.port), address: source.address, port: source.port },
            rest,
          });
        },
        ended() {
          clearTimeout(timer);
          done({ rejection: badHeader("the connection ended before a complete header") });
        },
        cancel() {
          clearTimeout(timer);
        },
      };
    },
  };
}
