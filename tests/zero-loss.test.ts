// Zero loss (spec, "server" shutdown and "client" exit codes): under load from many pipelining
// clients, SIGTERM makes the server acknowledge every message it logged as received, say
// `ERROR server shutting down`, and exit 0 within the drain timeout; and a client exits 0 only
// when every message it sent was acknowledged.
import { expect, test } from "bun:test";
import { expectEveryLoggedMessageAcknowledged, pump } from "./helpers/load.ts";
import { CHILD_ENV, eventually, SOURCE_CLIENT, startServerProcess, withDeadline } from "./helpers/processes.ts";
import { RawClient } from "./helpers/sockets.ts";
import { ack } from "./helpers/spec.ts";

const RAW_PEERS = 24;
const CLIENT_PROCESSES = 4;
const DRAIN_TIMEOUT_S = 5;

test("SIGTERM under load: every logged message is acknowledged, then the notice, exit 0", async () => {
  const server = await startServerProcess(["--drain-timeout", String(DRAIN_TIMEOUT_S)]);
  const clients: Array<ReturnType<typeof Bun.spawn<"pipe", "pipe", "pipe">>> = [];
  try {
    const peers = await Promise.all(Array.from({ length: RAW_PEERS }, () => RawClient.connect(server.port)));
    for (const [i, peer] of peers.entries()) pump(peer, `raw${i}`);

    // Our own client, piped, with input that has not ended when the server stops.
    for (let k = 0; k < CLIENT_PROCESSES; k++) {
      const client = Bun.spawn([...SOURCE_CLIENT, "--port", String(server.port), "--quiet"], {
        stdin: "pipe",
        stdout: "pipe",
        stderr: "pipe",
        env: CHILD_ENV,
      });
      clients.push(client);
      let n = 0;
      const feed = setInterval(() => {
        let batch = "";
        for (let i = 0; i < 500; i++) batch += `proc${k}-${n++}\n`;
        try {
          const stop = () => clearInterval(feed);
          void Promise.resolve(client.stdin.write(batch)).catch(stop);
          void Promise.resolve(client.stdin.flush()).catch(stop);
        } catch {
          // The client has exited (the server stopped): nothing more to feed.
          clearInterval(feed);
        }
      }, 2);
      void client.exited.then(() => clearInterval(feed));
    }
    const clientOutputs = clients.map((client) =>
      Promise.all([new Response(client.stdout).text(), new Response(client.stderr).text(), client.exited]),
    );

    // Under way: every connection has had messages logged.
    await eventually(() => peers.every((peer) => peer.receivedLines > 100), 20_000, "raw peers served");
    for (let k = 0; k < CLIENT_PROCESSES; k++) await server.stdout.waitFor(`proc${k}-1000`, 20_000);

    const stoppedAt = performance.now();
    const code = await server.stop("SIGTERM");
    const stopMs = performance.now() - stoppedAt;
    expect(code).toBe(0);
    expect(stopMs).toBeLessThan((DRAIN_TIMEOUT_S + 3) * 1000);

    // Raw peers: acks match the server's log of what it received, one for one, in order.
    const total = await expectEveryLoggedMessageAcknowledged(peers, server.stdout.text);
    expect(total).toBeGreaterThan(RAW_PEERS * 100);

    // Client processes: they had more to send, so they exit 5, never 0, and every ack they
    // printed is for a message the server logged (by its unique text), in order.
    for (const [k, output] of clientOutputs.entries()) {
      const [stdout, stderr, exitCode] = await withDeadline(output, 10_000, "client did not exit");
      expect(exitCode).toBe(5);
      const acks = stdout.split("\n").filter((line) => line !== "");
      const received = server.stdout.lines.flatMap((line) => {
        const text = line.slice(line.indexOf("] ") + 2);
        return text.startsWith(`proc${k}-`) ? [text] : [];
      });
      expect(acks).toEqual(received.map(ack));
      const notice = /\[ERROR\] server shutting down \((\d+) of (\d+) messages unacknowledged\)/;
      expect(stderr).toMatch(notice);
      const unacked = notice.exec(stderr);
      expect(Number(unacked![2]) - Number(unacked![1])).toBe(acks.length);
    }
  } finally {
    for (const client of clients) client.kill("SIGKILL");
    server.proc.kill("SIGKILL");
  }
}, 60_000);

test("a client whose input ends during the shutdown drain still exits 0 only with every ack", async () => {
  const server = await startServerProcess(["--quiet"]);
  try {
    const input = `${Array.from({ length: 50_000 }, (_, i) => `m${i}`).join("\n")}\n`;
    const client = Bun.spawn([...SOURCE_CLIENT, "--port", String(server.port), "--quiet"], {
      stdin: new Blob([input]),
      stdout: "pipe",
      stderr: "pipe",
      env: CHILD_ENV,
    });
    const output = Promise.all([new Response(client.stdout).text(), new Response(client.stderr).text(), client.exited]);
    // The signal must come while the client streams: once it is connected (not before, when it
    // would be refused: exit 3), and, on a busy machine, a moment into its input.
    await server.stderr.waitFor("[NEW CONNECTION]");
    await Bun.sleep(20);
    server.proc.kill("SIGTERM");
    const [stdout, stderr, exitCode] = await withDeadline(output, 20_000, "client did not exit");
    const acks = stdout.split("\n").filter((line) => line !== "").length;
    // Either the whole input made it before the shutdown, or the client says what was lost
    // (a notice that arrives with the last acks, before the end of input is seen, is still an
    // exit 5, with "0 of N" unacknowledged: the client could not have sent more).
    if (exitCode === 0) expect(acks).toBe(50_000);
    else {
      expect(exitCode).toBe(5);
      const unacked = /\((\d+) of (\d+) messages unacknowledged\)/.exec(stderr);
      expect(unacked).not.toBeNull();
      expect(Number(unacked![2]) - Number(unacked![1])).toBe(acks);
    }
    expect(await server.proc.exited).toBe(0);
  } finally {
    server.proc.kill("SIGKILL");
  }
});
