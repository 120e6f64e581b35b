// The admission step: each accepted socket is checked against the rules, in order, before it is
// served. The first rule that refuses turns the client away with its notice. The rules: who may
// connect (--allow, --deny), the connection limit, and the cap per address. A socket that waits
// for a stage first is checked as it opens: against every rule when the stage keeps its address
// (a TLS handshake; it holds a place under its address's cap meanwhile), against the connection
// limit alone when the stage names another client (a PROXY header), and in full once the stage is
// done (socket-handlers.ts).
import { type Cidr, findCidr, formatCidr, formatIp, parseIp } from "../net/cidr.ts";
import { notices } from "../protocol/messages.ts";
import type { LimitKind } from "./events.ts";
import type { Peer } from "./peer.ts";
import type { ConnectionRegistry } from "./registry.ts";

/**
 * Why a client was turned away: the key of ServerStats.rejected and the `reason` label of
 * socketlab_connections_rejected_total. Each is listed from the start, its rule or not yet written
 * (denied: --allow/--deny; per-address: --max-connections-per-address; proxy: a bad PROXY header),
 * so that every series exists at 0 before the first rejection and rate() works on it.
 */
export type RejectionReason = "full" | "denied" | "per-address" | "proxy" | "shutting-down";

export interface Rejection {
  reason: RejectionReason;
  /** The text of the `ERROR <notice>` line the client gets before the close. */
  notice: string;
  /** The limit this refusal counts as a hit of, if any, and what the log says of it. */
  limit?: { kind: LimitKind; detail: string };
  /** What the log says of a refusal that is not a limit hit (`[DENIED] <peer> <detail>`); none: not logged. */
  detail?: string;
}

export interface AdmissionRule {
  /** A Rejection to turn `peer` away, or undefined to let the next rule decide. */
  check(peer: Peer, registry: ConnectionRegistry): Rejection | undefined;
}

export function admit(
  rules: readonly AdmissionRule[],
  peer: Peer,
  registry: ConnectionRegistry,
): Rejection | undefined {
  for (const rule of rules) {
    const rejection = rule.check(peer, registry);
    if (rejection) return rejection;
  }
  return undefined;
}

/**
 * `--max-connections`: the server as a whole serves at most this many clients at once. Sockets
 * still waiting for a stage hold a place too, so a crowd of them cannot exhaust the file
 * descriptors that the limit protects.
 */
export function connectionLimit(maxConnections: number, wholeServer = maxConnections): AdmissionRule {
  const connections = (count: number) => `${count} ${count === 1 ? "connection" : "connections"}`;
  const detail =
    wholeServer === maxConnections
      ? `server is full (${connections(maxConnections)})`
      : `server is full (${connections(wholeServer)}, ${maxConnections} of them on this worker)`;
  return {
    check: (_peer, registry) =>
      registry.size + registry.waiting >= maxConnections
        ? {
            reason: "full",
            notice: notices.serverFull,
            limit: { kind: "connections", detail },
          }
        : undefined,
  };
}

/**
 * `--allow` and `--deny`: with any allow block, only clients inside one are served; a deny block
 * wins over every allow block. Peers without an address (Unix sockets) are not subject to it. An
 * address that cannot be read is outside every block: refused when there is an allow list.
 */
export function accessList(allow: readonly Cidr[], deny: readonly Cidr[]): AdmissionRule | undefined {
  if (allow.length === 0 && deny.length === 0) return undefined;
  const denied = (detail: string): Rejection => ({ reason: "denied", notice: notices.accessDenied, detail });
  return {
    check(peer) {
      if (peer.address === undefined) return undefined;
      const address = parseIp(peer.address);
      const denyBlock = address && findCidr(deny, address);
      if (denyBlock) return denied(`matches deny rule ${formatCidr(denyBlock)}`);
      if (allow.length > 0 && !(address && findCidr(allow, address))) return denied("is not in the allow list");
      return undefined;
    },
  };
}

/** `--max-connections-per-address`: one address (IPv4-mapped counted as IPv4) may hold this many. */
export function perAddressLimit(maxConnectionsPerAddress: number): AdmissionRule | undefined {
  if (maxConnectionsPerAddress <= 0) return undefined;
  return {
    check(peer, registry) {
      const key = addressKey(peer);
      if (key === undefined || registry.connectionsFrom(key) < maxConnectionsPerAddress) return undefined;
      return {
        reason: "per-address",
        notice: notices.tooManyFromAddress,
        detail: `has too many connections from ${key} (limit ${maxConnectionsPerAddress} per address)`,
      };
    },
  };
}

/** How the per-address cap names a peer's address: its canonical text, IPv4-mapped as IPv4. */
export function addressKey(peer: Peer): string | undefined {
  if (peer.address === undefined) return undefined;
  const address = parseIp(peer.address);
  return address ? formatIp(address) : peer.address;
}
