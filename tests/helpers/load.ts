// Load for shutdown tests: raw clients that pipeline numbered messages until the server hangs up,
// and the server's log of what it received from each.
import type { RawClient } from "../../harness/raw-client.ts";

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
