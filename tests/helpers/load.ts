// Load for shutdown tests: raw clients that pipeline numbered messages until the server hangs up,
// the server's log of what it received from each, and the check that nothing was lost.
import { expect } from "bun:test";
import type { RawClient } from "../../harness/raw-client.ts";
import { withDeadline } from "../../harness/wait.ts";
import { ack } from "./spec.ts";

/** Sends numbered messages (`<name>-<n>`) as fast as the server takes them, until it hangs up. */
export function pump(peer: RawClient, name: string): { sent: () => number } {
  let sent = 0;
  void (async () => {
    while (!peer.isEnded) {
      if (peer.queuedBytes < 32 * 1024) {
        let batch = "";
        for (let i = 0; i < 200; i++) batch += `${name}-${sent++}\n`;
        peer.write(batch);
      }
      await Bun.sleep(1);
    }
  })();
  return { sent: () => sent };
}

/** The server's stdout lines `[peer] text` for one peer, in order (plain messages: no escapes). */
export function logged(stdout: string, peer: string): string[] {
  const prefix = `[${peer}] `;
  return stdout.split("\n").flatMap((line) => (line.startsWith(prefix) ? [line.slice(prefix.length)] : []));
}

/**
 * After a graceful stop: each peer got an ack for every message the server logged from it, one
 * for one and in order, then `ERROR server shutting down`. Returns how many messages that was.
 */
export async function expectEveryLoggedMessageAcknowledged(peers: RawClient[], stdout: string): Promise<number> {
  let total = 0;
  for (const peer of peers) {
    await withDeadline(peer.ending, 5000, "peer not closed");
    const received = logged(stdout, `127.0.0.1:${peer.localPort}`);
    const lines = peer.replies.lines;
    expect(lines.at(-1)).toBe("ERROR server shutting down");
    expect(lines.slice(0, -1)).toEqual(received.map(ack));
    total += received.length;
  }
  return total;
}
