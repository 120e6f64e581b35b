// The admission step: each accepted socket is checked against the rules, in order, before it is
// served. The first rule that refuses turns the client away with its notice. Today the only rule
// is the connection limit; address rules (allow/deny, a cap per address) are rules here too.
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

/** `--max-connections`: the server as a whole serves at most this many clients at once. */
export function connectionLimit(maxConnections: number): AdmissionRule {
  return {
    check: (_peer, registry) =>
      registry.size >= maxConnections
        ? {
            reason: "full",
            notice: notices.serverFull,
            limit: { kind: "connections", detail: `server is full (${maxConnections} connections)` },
          }
        : undefined,
  };
}
