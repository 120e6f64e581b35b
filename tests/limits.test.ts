// The server's limits (spec, "server"): each one is hit on purpose, and the test checks what the
// offending client sees, that the others are still served, that the hit is logged once and
// counted, and that the server's memory and CPU stay bounded (read from /proc, bounded loosely:
// the machine is shared, so these are "no runaway" checks, not benchmarks).
import { describe, expect, test } from "bun:test";
import type { LimitKind } from "../src/server/events.ts";
import { openFileLimit } from "../src/server/limits.ts";
import { type RunningServer, type ServerOptions, startServer } from "../src/server/server.ts";
import { SERVER_TS, type ServerProcess, startServerProcess, withDeadline } from "./helpers/processes.ts";
import { ack } from "./helpers/spec.ts";
import {
  countMatches,
  cpuShareOver,
  eventually,
  openFiles,
  RawPeer,
  residentBytes,
  sampleMax,
} from "./limits-support.ts";

const MiB = 1024 * 1024;
/** A server that spins on EMFILE uses a whole core; an idle one, close to nothing. */
const IDLE_CPU_SHARE = 0.3;

/** An in-process server whose limit events are recorded. */
async function withServer(
  options: Omit<ServerOptions, "host" | "port">,
  body: (server: RunningServer, limitHits: Array<{ peer: string; limit: LimitKind }>) => Promise<void>,
): Promise<void> {
  const limitHits: Array<{ peer: string; limit: LimitKind }> = [];
  const server = startServer({
    host: "127.0.0.1",
    port: 0,
    closeTimeoutMs: 500,
    ...options,
    events: { limitHit: (peer, limit) => limitHits.push({ peer, limit }) },
  });
  try {
    await body(server, limitHits);
  } finally {
    server.kill();
  }
}

async function withServerProcess(args: string[], body: (server: ServerProcess) => Promise<void>, program?: string[]) {
  const server = await startServerProcess(args, program);
  try {
    await body(server);
  } finally {
    if (server.proc.exitCode === null) server.proc.kill("SIGKILL");
    await server.proc.exited;
  }
}

/** Sends one message and waits for its ack. */
async function roundTrip(peer: RawPeer, message: string): Promise<void> {
  peer.send(`${message}\n`);
  await peer.waitForText(`${ack(message)}\n`);
}

/**
 * Opens `count` connections and holds them, in bursts that fit the listen backlog (512 in Bun):
 * past it, the kernel completes a client's connect but the server sees the connection only after
 * SYN-ACK retries, up to half a minute later. Each burst waits until the server has logged every
 * connection as served or turned away.
 */
async function flood(server: ServerProcess, count: number, deadlineMs: number): Promise<RawPeer[]> {
  const peers: RawPeer[] = [];
  const seen = () =>
    countMatches(server.stderr.text, /^\[NEW CONNECTION\]/gm) +
    countMatches(server.stderr.text, /^\[LIMIT\] \S+ server is full/gm);
  const before = seen();
  const start = performance.now();
  while (peers.length < count) {
    const burst = Math.min(FLOOD_BURST, count - peers.length);
    peers.push(...(await Promise.all(Array.from({ length: burst }, () => RawPeer.connect(server.port)))));
    const left = deadlineMs - (performance.now() - start);
    await eventually(() => seen() - before >= peers.length, Math.max(left, 1), `${peers.length} connections not seen`);
  }
  return peers;
}

const FLOOD_BURST = 400;

describe("max connections", () => {
  test("the extra client gets 'ERROR server is full' and is closed; the rest are served", async () => {
    await withServer({ limits: { maxConnections: 2 } }, async (server, limitHits) => {
      const first = await RawPeer.connect(server.port);
      const second = await RawPeer.connect(server.port);
      await roundTrip(first, "one");
      await roundTrip(second, "two");
      const extra = await RawPeer.connect(server.port);
      await extra.ended;
      expect(extra.text).toBe("ERROR server is full\n");
      await roundTrip(first, "still here");
      await roundTrip(second, "me too");
      expect(server.stats.connectionsRejected).toBe(1);
      expect(server.stats.limitHits.connections).toBe(1);
      expect(limitHits).toEqual([{ peer: `127.0.0.1:${extra.localPort}`, limit: "connections" }]);

      // A place frees up when a client leaves.
      first.close();
      await eventually(() => server.activeConnections === 1, 5000, "first client not released");
      const next = await RawPeer.connect(server.port);
      await roundTrip(next, "my turn");
      for (const peer of [second, next]) peer.close();
    });
  });

  // Each flood needs as many descriptors in this process, which Bun raises to the hard limit.
  const FLOOD = Math.min(3000, (openFileLimit() ?? 4096) - 512);
  const FLOOD_EMFILE = Math.min(2000, (openFileLimit() ?? 4096) - 512);

  test(`a flood of ${FLOOD} connections against --max-connections 100: responsive, then idle`, async () => {
    await withServerProcess(["--quiet", "--max-connections", "100"], async (server) => {
      const pid = server.proc.pid;
      const peers = await flood(server, FLOOD, 60_000);
      // Every connection is either served or told the server is full, and the 100 served work.
      await eventually(
        () => peers.filter((peer) => peer.isEnded).length >= FLOOD - 100,
        30_000,
        "extra clients not turned away",
      );
      const served = peers.filter((peer) => !peer.isEnded);
      const rejected = peers.filter((peer) => peer.isEnded);
      for (const peer of rejected) expect(peer.text).toBe("ERROR server is full\n");
      expect(served.length).toBe(100);
      await Promise.all(served.map((peer, i) => roundTrip(peer, `served ${i}`)));

      // Logged once per turned-away connection.
      const fullLines = /^\[LIMIT\] [^ ]+ server is full/gm;
      await eventually(() => countMatches(server.stderr.text, fullLines) >= FLOOD - 100, 10_000, "[LIMIT] lines");
      expect(countMatches(server.stderr.text, fullLines)).toBe(FLOOD - 100);

      // Still responsive while full: a newcomer is told so at once.
      const newcomer = await RawPeer.connect(server.port);
      expect(await withDeadline(newcomer.ended, 5000, "no answer while full")).toBeDefined();
      expect(newcomer.text).toBe("ERROR server is full\n");
      expect(await cpuShareOver(pid, 1000)).toBeLessThan(IDLE_CPU_SHARE);

      for (const peer of served) peer.close();
      // Places free up as the server sees the clients leave.
      await eventually(
        () => countMatches(server.stderr.text, /^\[DISCONNECTED\]/gm) >= 100,
        10_000,
        "clients not released",
      );
      const after = await RawPeer.connect(server.port);
      await roundTrip(after, "after the flood");
      after.close();
      expect(await cpuShareOver(pid, 1000)).toBeLessThan(IDLE_CPU_SHARE);
    });
  }, 120_000);

  test(`the default limit stays under the open-file limit, so a flood of ${FLOOD_EMFILE} never reaches EMFILE`, async () => {
    // 512 open files: the server must lower its limit and keep serving (when accept() fails
    // with EMFILE, Bun retries at once, at 100% CPU, and accepts no one). Bun raises the soft
    // limit to the hard one, so the hard limit is what counts.
    const program = ["sh", "-c", 'ulimit -n 512 && exec "$0" "$@"', process.execPath, SERVER_TS];
    await withServerProcess(
      ["--quiet"],
      async (server) => {
        const pid = server.proc.pid;
        const lowered = await server.stderr.waitFor(/--max-connections lowered to (\d+)/);
        const limit = Number(lowered[1]);
        expect(limit).toBeLessThanOrEqual(512 - 64);

        const fileSampler = sampleMax(() => openFiles(pid));
        const peers = await flood(server, FLOOD_EMFILE, 30_000);
        const turnedAway = () => peers.filter((peer) => peer.isEnded).length;
        await eventually(() => turnedAway() >= FLOOD_EMFILE - limit, 30_000, "extra clients not turned away");
        // Clients turned away hold a descriptor while they read their notice: those are capped too.
        expect(fileSampler.stop()).toBeLessThan(512);
        const served = peers.filter((peer) => !peer.isEnded);
        expect(served.length).toBe(limit);
        for (const peer of peers.filter((peer) => peer.isEnded)) expect(peer.text).toBe("ERROR server is full\n");
        expect(await cpuShareOver(pid, 1000)).toBeLessThan(IDLE_CPU_SHARE);
        await roundTrip(served[0]!, "still serving");

        for (const peer of served) peer.close();
        const disconnected = /^\[DISCONNECTED\]/gm;
        await eventually(() => countMatches(server.stderr.text, disconnected) >= limit, 10_000, "clients not released");
        const after = await RawPeer.connect(server.port);
        await roundTrip(after, "after the flood");
        after.close();
        expect(await cpuShareOver(pid, 1000)).toBeLessThan(IDLE_CPU_SHARE);
      },
      program,
    );
  }, 120_000);
});

describe("max message bytes", () => {
  test("200 MiB without a newline: 'ERROR message too long', closed, memory flat", async () => {
    await withServerProcess(["--quiet"], async (server) => {
      const pid = server.proc.pid;
      const bystander = await RawPeer.connect(server.port);
      await roundTrip(bystander, "before");
      const before = residentBytes(pid);
      let peak = before;

      const streamer = await RawPeer.connect(server.port);
      const block = Buffer.alloc(MiB, "a");
      let offered = 0;
      while (offered < 200 * MiB && !streamer.isEnded) {
        // Keep a few MiB in flight, no more, so the test itself stays small.
        if (streamer.queuedBytes < 4 * MiB) {
          streamer.send(block);
          offered += block.length;
        } else {
          await Promise.race([streamer.until(() => streamer.queuedBytes < 4 * MiB, 50).catch(() => {}), Bun.sleep(50)]);
        }
        peak = Math.max(peak, residentBytes(pid));
      }
      await withDeadline(streamer.ended, 10_000, "streamer not closed");
      expect(streamer.text).toBe("ERROR message too long (limit 1048576 bytes)\n");
      expect(peak - before).toBeLessThan(64 * MiB);

      await roundTrip(bystander, "after");
      bystander.close();
      await server.stderr.waitFor("[LIMIT]");
      expect(server.stderr.text.match(/\[LIMIT\].*message longer than 1048576 bytes/g)?.length).toBe(1);
    });
  }, 60_000);

  test("messages up to the limit pass; the first longer one is refused after those before it", async () => {
    await withServer({ limits: { maxMessageBytes: 1000 } }, async (server, limitHits) => {
      const peer = await RawPeer.connect(server.port);
      const atLimit = "b".repeat(1000);
      // Sent in small pieces, so the long line spans many reads.
      const input = `short\n${atLimit}\r\n${"c".repeat(1001)}\nnever\n`;
      for (let i = 0; i < input.length; i += 97) {
        peer.send(input.slice(i, i + 97));
        await Bun.sleep(1);
      }
      await withDeadline(peer.ended, 5000, "not closed");
      expect(peer.lines).toEqual([ack("short"), ack(atLimit), "ERROR message too long (limit 1000 bytes)"]);
      expect(server.stats.limitHits["message-bytes"]).toBe(1);
      expect(limitHits.map((hit) => hit.limit)).toEqual(["message-bytes"]);
    });
  });

  test("a long line that arrives in one read is refused too", async () => {
    await withServer({ limits: { maxMessageBytes: 1000 } }, async (server) => {
      const peer = await RawPeer.connect(server.port);
      peer.send(`ok\n${"d".repeat(1500)}\nnever\n`);
      await withDeadline(peer.ended, 5000, "not closed");
      expect(peer.lines).toEqual([ack("ok"), "ERROR message too long (limit 1000 bytes)"]);
      expect(server.stats.limitHits["message-bytes"]).toBe(1);
    });
  });
});

describe("idle timeout", () => {
  test("an idle client is told 'ERROR idle timeout' and closed; a busy one is not", async () => {
    await withServer({ limits: { idleTimeoutMs: 400 } }, async (server, limitHits) => {
      const idle = await RawPeer.connect(server.port);
      const busy = await RawPeer.connect(server.port);
      const start = performance.now();
      let sent = 0;
      while (!idle.isEnded && performance.now() - start < 5000) {
        await roundTrip(busy, `tick ${sent++}`);
        await Bun.sleep(50);
      }
      const elapsed = performance.now() - start;
      expect(idle.isEnded).toBe(true);
      expect(idle.text).toBe("ERROR idle timeout\n");
      // Not before the limit; the upper bound is loose (the spec asks for about a second).
      expect(elapsed).toBeGreaterThanOrEqual(400);
      expect(busy.isEnded).toBe(false);
      expect(busy.lines.length).toBe(sent);
      expect(server.stats.limitHits.idle).toBe(1);
      expect(limitHits).toEqual([{ peer: `127.0.0.1:${idle.localPort}`, limit: "idle" }]);
      busy.close();
    });
  });

  test("is off by default", async () => {
    await withServer({}, async (server) => {
      const peer = await RawPeer.connect(server.port);
      await Bun.sleep(1500);
      expect(peer.isEnded).toBe(false);
      await roundTrip(peer, "still welcome");
      peer.close();
    });
  });
});

describe("output backpressure", () => {
  test("a client that sends fast and never reads is paused, memory bounded, others unaffected", async () => {
    await withServerProcess(["--quiet"], async (server) => {
      const pid = server.proc.pid;
      const other = await RawPeer.connect(server.port);
      await roundTrip(other, "warm up");
      const before = residentBytes(pid);
      let peak = before;

      // 2 million one-byte messages: 4 MB in, 68 MB of acks out. Without backpressure the server
      // would hold most of those acks in memory.
      const messages = 2_000_000;
      const greedy = await RawPeer.connect(server.port);
      greedy.keep = false;
      greedy.pause();
      const block = Buffer.from("x\n".repeat(50_000));
      for (let i = 0; i < messages / 50_000; i++) greedy.send(block);
      // Wait until the server stops taking its bytes (or has them all).
      let lastWritten = -1;
      while (greedy.writtenBytes !== lastWritten) {
        lastWritten = greedy.writtenBytes;
        for (let i = 0; i < 5; i++) {
          await Bun.sleep(100);
          peak = Math.max(peak, residentBytes(pid));
        }
      }
      expect(peak - before).toBeLessThan(64 * MiB);
      await roundTrip(other, "not affected");
      await server.stderr.waitFor(/\[LIMIT\] .* client is not reading its replies/);

      // The client catches up: the server resumes, and every message gets its ack, in order.
      greedy.resume();
      await greedy.until(() => greedy.receivedLines >= messages, 60_000);
      expect(greedy.receivedLines).toBe(messages);
      expect(greedy.receivedBytes).toBe(messages * (ack("x").length + 1));
      expect(server.stderr.text.match(/client is not reading its replies/g)?.length).toBe(1);
      for (const peer of [greedy, other]) peer.close();
    });
  }, 90_000);
});
