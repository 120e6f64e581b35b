// socket-lab behind a real HAProxy (Debian's haproxy), run from deploy/haproxy.cfg as it is, its
// addresses given through the environment: two backends with --proxy-protocol, HAProxy sending
// PROXY v2 from 127.0.0.5 (the only address the backends trust) and health-checking them with a
// message and its ack (a v2 LOCAL header first). Clients connect from 127.0.0.2 and 127.0.0.3.
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { Subprocess } from "bun";
import {
  CHILD_ENV,
  DEADLINE_MS,
  ROOT,
  runProgram,
  type ServerProcess,
  SOURCE_CLIENT,
  startServerProcess,
  TextCollector,
  withDeadline,
} from "./helpers/processes.ts";
import { proxyV1 } from "./helpers/proxy.ts";
import { freePort, RawClient } from "./helpers/sockets.ts";
import { ackLine } from "./helpers/spec.ts";

const CONFIG = join(ROOT, "deploy", "haproxy.cfg");
/** The address HAProxy connects to the backends from. */
const PROXY_SOURCE = "127.0.0.5";

interface Deployment {
  frontendPort: number;
  backends: ServerProcess[];
  haproxy: { proc: Subprocess<"ignore", "pipe", "pipe">; stderr: TextCollector };
}

const running: Deployment[] = [];
const clients: RawClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.terminate();
  for (const { haproxy, backends } of running.splice(0)) {
    haproxy.proc.kill("SIGKILL");
    await haproxy.proc.exited;
    for (const backend of backends) {
      if (backend.proc.exitCode === null) backend.proc.kill("SIGKILL");
      await backend.proc.exited;
    }
  }
});

/** Two backends started with `backendArgs`, HAProxy in front, and both backends seen health-checked. */
async function deploy(backendArgs: string[] = []): Promise<Deployment> {
  const backends = await Promise.all(
    [1, 2].map(() => startServerProcess(["--proxy-protocol", "--proxy-from", `${PROXY_SOURCE}/32`, ...backendArgs])),
  );
  const frontendPort = freePort();
  // Debian puts it in /usr/sbin, which a non-root PATH may lack.
  const haproxy = Bun.which("haproxy") ?? "/usr/sbin/haproxy";
  const proc = Bun.spawn([haproxy, "-db", "-f", CONFIG], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: {
      ...CHILD_ENV,
      SOCKETLAB_FRONTEND: `127.0.0.1:${frontendPort}`,
      SOCKETLAB_BACKEND1: `127.0.0.1:${backends[0]!.port}`,
      SOCKETLAB_BACKEND2: `127.0.0.1:${backends[1]!.port}`,
      SOCKETLAB_SOURCE: PROXY_SOURCE,
    },
  });
  const deployment = { frontendPort, backends, haproxy: { proc, stderr: new TextCollector(proc.stderr) } };
  running.push(deployment);
  void new TextCollector(proc.stdout);
  // A health check that passed: its message, logged under HAProxy's own address (the LOCAL header).
  const healthCheck = new RegExp(`^\\[${PROXY_SOURCE.replaceAll(".", "\\.")}:\\d+\\] healthcheck$`, "m");
  await Promise.all(backends.map((backend) => backend.stdout.waitFor(healthCheck)));
  expect(deployment.haproxy.stderr.text).not.toContain("is DOWN");
  return deployment;
}

/** A client from `from` through HAProxy, served: one message, its ack. */
async function throughProxy(deployment: Deployment, from: string, message: string): Promise<RawClient> {
  const client = await RawClient.connect(deployment.frontendPort, "127.0.0.1", { localAddress: from });
  clients.push(client);
  client.write(`${message}\n`);
  await client.waitFor(ackLine(message));
  return client;
}

const allStdout = (deployment: Deployment) => deployment.backends.map((backend) => backend.stdout.text).join("");

describe("behind HAProxy", () => {
  test("clients from 127.0.0.2 and 127.0.0.3 are logged by both backends under their own addresses", async () => {
    const deployment = await deploy();
    // Held open together, so leastconn spreads them over both backends.
    const held: RawClient[] = [];
    for (const [i, from] of ["127.0.0.2", "127.0.0.3", "127.0.0.2", "127.0.0.3"].entries()) {
      held.push(await throughProxy(deployment, from, `message ${i}`));
    }
    for (const [i, client] of held.entries()) {
      const from = i % 2 === 0 ? "127.0.0.2" : "127.0.0.3";
      // HAProxy's v2 header carries the client's own source port too.
      const line = `[${from}:${client.localPort}] message ${i}\n`;
      await Promise.any(deployment.backends.map((backend) => backend.stdout.waitFor(line)));
    }
    for (const backend of deployment.backends) {
      expect(backend.stdout.text).toMatch(/^\[127\.0\.0\.[23]:\d+\] message \d$/m);
      expect(backend.stderr.text).toMatch(/^\[NEW CONNECTION\] 127\.0\.0\.[23]:\d+ connected\.$/m);
    }
    // No client is ever named by HAProxy's address: only its health checks are.
    expect(allStdout(deployment)).not.toMatch(/^\[127\.0\.0\.5:\d+\] message/m);
  });

  test("--deny 127.0.0.3/32 on the backends refuses that client through the balancer, and serves the other", async () => {
    const deployment = await deploy(["--deny", "127.0.0.3/32"]);
    await throughProxy(deployment, "127.0.0.2", "let in");
    const denied = await RawClient.connect(deployment.frontendPort, "127.0.0.1", { localAddress: "127.0.0.3" });
    clients.push(denied);
    denied.write("keep out\n");
    expect(await withDeadline(denied.ending, DEADLINE_MS, "HAProxy did not pass the close on")).not.toBe("reset");
    expect(denied.replies.text).toBe("ERROR access denied\n");
    const line = `[DENIED] 127.0.0.3:${denied.localPort} matches deny rule 127.0.0.3/32\n`;
    await Promise.any(deployment.backends.map((backend) => backend.stderr.waitFor(line)));
    expect(allStdout(deployment)).not.toContain("keep out");
  });

  test("straight to a backend: a forged header from an untrusted address is refused; one from the trusted address is believed", async () => {
    const deployment = await deploy();
    const backend = deployment.backends[0]!;
    const forger = await RawClient.connect(backend.port, "127.0.0.1", { localAddress: "127.0.0.1" });
    clients.push(forger);
    forger.write(`${proxyV1("10.20.30.40", 5555, "127.0.0.1", backend.port)}forged\n`);
    expect(await forger.closedByServer()).not.toBe("reset");
    expect(forger.replies.text).toBe("ERROR access denied\n");
    await backend.stderr.waitFor(`[PROXY] 127.0.0.1:${forger.localPort} is not a trusted proxy\n`);

    // printf | nc from the trusted address: the backend logs the header's client.
    const script = `printf 'PROXY TCP4 192.0.2.10 127.0.0.1 4000 ${backend.port}\\r\\nhello\\n' | nc -N -s ${PROXY_SOURCE} 127.0.0.1 ${backend.port}`;
    const result = await runProgram(["sh"], ["-c", script]);
    expect(result).toMatchObject({ exitCode: 0, stdout: ackLine("hello") });
    await backend.stdout.waitFor("[192.0.2.10:4000] hello\n");
    expect(allStdout(deployment)).not.toContain("10.20.30.40");
    expect(allStdout(deployment)).not.toContain("forged");
  });

  test("rolling restart: client --reconnect streams 100,000 lines while backend 1, then backend 2, restarts: exit 0, every ack once, in order", async () => {
    const backendArgs = ["--proxy-protocol", "--proxy-from", `${PROXY_SOURCE}/32`];
    const deployment = await deploy();
    const lines = Array.from({ length: 100_000 }, (_, i) => `line ${i}`);
    const client = Bun.spawn(
      [...SOURCE_CLIENT, "--port", String(deployment.frontendPort), "--reconnect", "--reconnect-for", "60"],
      { stdin: "pipe", stdout: "pipe", stderr: "pipe", env: CHILD_ENV },
    );
    const stdout = new TextCollector(client.stdout);
    const stderr = new TextCollector(client.stderr);
    // The input comes at a pace (about 10 s in all), so that both restarts happen mid-stream.
    const feeding = (async () => {
      for (let start = 0; start < lines.length; start += 1000) {
        client.stdin.write(`${lines.slice(start, start + 1000).join("\n")}\n`);
        await client.stdin.flush();
        await Bun.sleep(100);
      }
      await client.stdin.end();
    })();
    for (const index of [0, 1]) {
      await stdout.waitForLines(index === 0 ? 10_000 : 50_000, 60_000);
      const old = deployment.backends[index]!;
      // SIGTERM: the backend acks what it received, says `ERROR server shutting down`, exits 0.
      expect(await old.stop("SIGTERM")).toBe(0);
      const restarted = await startServerProcess([...backendArgs, "--port", String(old.port)]);
      deployment.backends[index] = restarted;
      // Back in HAProxy's rotation once its health checks pass again.
      await restarted.stdout.waitFor(/healthcheck$/m, 30_000);
    }
    await feeding;
    const exitCode = await withDeadline(client.exited, 90_000, "client --reconnect did not finish");
    await Promise.all([stdout.done, stderr.done]);
    if (exitCode !== 0) console.error(stderr.text);
    expect(exitCode).toBe(0);
    // Every ack exactly once, in input order.
    expect(stdout.text === lines.map(ackLine).join("")).toBe(true);
    expect(stderr.text).toContain("[RECONNECTING]");
  }, 180_000);
});
