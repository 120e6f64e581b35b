// --workers N (spec, "Scale-out"): a supervisor and N worker processes sharing the port with
// reusePort. Real processes throughout; which worker serves a connection is read from the kernel
// (`ss -p` names the process that owns each socket), never from the server's own word.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { memoryKiB } from "../harness/procfs.ts";
import { buildBinary, ENTRY_POINTS, MULTICALL_ENTRY } from "../scripts/compile.ts";
import { UsageError } from "../src/cli/args.ts";
import { HEALTHY_AFTER_MS, RestartBackoff } from "../src/server/workers/backoff.ts";
import { parseWorkers, shareOf } from "../src/server/workers/count.ts";
import { makeCertificates } from "./helpers/certs.ts";
import { expectEveryLoggedMessageAcknowledged, pump } from "./helpers/load.ts";
import { endpointBase, metricsUrl, scrape } from "./helpers/metrics.ts";
import {
  CHILD_ENV,
  DEADLINE_MS,
  eventually,
  type Program,
  ROOT,
  runProgram,
  type ServerProcess,
  SOURCE_CLIENT,
  SOURCE_SERVER,
  startServerProcess,
  TextCollector,
  withDeadline,
} from "./helpers/processes.ts";
import { connectClients, freePort, RawClient } from "./helpers/sockets.ts";
import { ack, ackLine } from "./helpers/spec.ts";
import { stuckReader } from "./helpers/stuck-reader.ts";

/** The pids of the processes listening on `port` (one per listening socket). */
function listeningPids(port: number): number[] {
  const out = Bun.spawnSync(["ss", "-Hltnp", `sport = :${port}`]).stdout.toString();
  return [...out.matchAll(/pid=(\d+)/g)].map((match) => Number(match[1])).sort();
}

/** For each established connection on the server's side of `port`: the client's port -> the serving pid. */
function servingPids(port: number): Map<number, number> {
  const out = Bun.spawnSync(["ss", "-Htnp", "state", "established", `sport = :${port}`]).stdout.toString();
  const serving = new Map<number, number>();
  for (const match of out.matchAll(/:\d+\s+\S+:(\d+)\s+users:\(\("[^"]*",pid=(\d+)/g)) {
    serving.set(Number(match[1]), Number(match[2]));
  }
  return serving;
}

function isGone(pid: number): boolean {
  try {
    // A zombie has exited too; only its parent has not collected it yet.
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.startsWith("Z") ?? true;
  } catch {
    return true;
  }
}

/** The pids whose parent is `pid` now. */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Fields after the command's closing parenthesis: state, then the parent's pid.
      const parent = readFileSync(`/proc/${entry}/stat`, "utf8").split(") ")[1]?.split(" ")[1];
      if (Number(parent) === pid) children.push(Number(entry));
    } catch {
      // Gone between the listing and the read.
    }
  }
  return children;
}

/**
 * Starts `server --workers 2`, signals it (`signal`) as soon as its first worker is spawned,
 * before that worker listens, and waits for it to exit and for every worker seen to be gone.
 */
async function signalledWhileStarting(
  signal: (supervisor: Subprocess) => void,
  { ownSession = false, port = 0 } = {},
): Promise<{ exitCode: number; stderr: string; workersGoneWhenItExited: boolean }> {
  const proc = Bun.spawn([...SOURCE_SERVER, "--workers", "2", "--port", String(port), "--quiet"], {
    env: CHILD_ENV,
    stdout: "ignore",
    stderr: "pipe",
    detached: ownSession,
  });
  const stderr = new TextCollector(proc.stderr);
  let workers: number[] = [];
  try {
    workers = await firstWorkerOf(proc.pid);
    signal(proc);
    const exitCode = await withDeadline(proc.exited, DEADLINE_MS, "the supervisor did not exit");
    const workersGoneWhenItExited = workers.every(isGone);
    await stderr.done;
    await eventually(() => workers.every(isGone), DEADLINE_MS, "the workers gone after their supervisor");
    return { exitCode, stderr: stderr.text, workersGoneWhenItExited };
  } finally {
    for (const pid of workers) if (!isGone(pid)) process.kill(pid, "SIGKILL");
    proc.kill("SIGKILL");
  }
}

/** The supervisor's first worker, as soon as it is spawned (before it listens). */
async function firstWorkerOf(supervisor: number): Promise<number[]> {
  let workers: number[] = [];
  await eventually(
    () => {
      workers = childrenOf(supervisor);
      return workers.length > 0;
    },
    DEADLINE_MS,
    "the first worker spawned",
  );
  return workers;
}

async function startWorkers(args: string[] = [], program: Program = SOURCE_SERVER): Promise<ServerProcess> {
  const server = await startServerProcess(["--workers", "2", ...args], program);
  await eventually(() => listeningPids(server.port).length === 2, DEADLINE_MS, "two listeners");
  return server;
}

describe("two workers", () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startWorkers();
  });
  afterAll(async () => {
    if (server) expect(await server.stop("SIGTERM")).toBe(0);
  });

  test("two listening sockets on the port, in two processes that are not the supervisor; one STARTING line", () => {
    const pids = listeningPids(server.port);
    expect(new Set(pids).size).toBe(2);
    expect(pids).not.toContain(server.proc.pid);
    expect(server.stderr.text.match(/\[STARTING\]/g)?.length).toBe(1);
  });

  test("50 clients are spread over both workers, and the log counts them for the server as a whole", async () => {
    const clients = await connectClients(50, server.port);
    try {
      for (const [i, client] of clients.entries()) client.write(`hello ${i}\n`);
      for (const [i, client] of clients.entries()) await client.waitFor(ackLine(`hello ${i}`));
      const serving = servingPids(server.port);
      const perWorker = new Map<number, number>();
      for (const client of clients) {
        const pid = serving.get(client.localPort);
        expect(pid).toBeDefined();
        perWorker.set(pid!, (perWorker.get(pid!) ?? 0) + 1);
      }
      expect([...perWorker.keys()].sort()).toEqual(listeningPids(server.port));
      expect([...perWorker.values()].every((count) => count > 0)).toBe(true);
      await server.stderr.waitFor("[ACTIVE CONNECTIONS] 50\n");
    } finally {
      for (const client of clients) client.end();
    }
  });
});

test("kill -9 of a worker: it is restarted and logged, and the other worker's clients never notice", async () => {
  const server = await startWorkers();
  const clients: RawClient[] = [];
  try {
    // Enough clients that both workers serve some.
    clients.push(...(await connectClients(20, server.port)));
    for (const client of clients) client.write("before\n");
    for (const client of clients) await client.waitFor(ackLine("before"));
    const serving = servingPids(server.port);
    const [victim, survivor] = listeningPids(server.port);
    const survivors = clients.filter((client) => serving.get(client.localPort) === survivor);
    const victims = clients.filter((client) => serving.get(client.localPort) === victim);
    expect(survivors.length).toBeGreaterThan(0);
    expect(victims.length).toBeGreaterThan(0);

    // The survivors keep talking while the other worker dies and comes back.
    let sent = 0;
    const talk = setInterval(() => {
      sent++;
      for (const client of survivors) client.write(`during ${sent}\n`);
    }, 10);
    try {
      process.kill(victim!, "SIGKILL");
      await server.stderr.waitFor(/\[WORKER\] [12] exited \(signal SIGKILL\); restarting\n/);
      await eventually(
        () => {
          const pids = listeningPids(server.port);
          return pids.length === 2 && !pids.includes(victim!) && pids.includes(survivor!);
        },
        DEADLINE_MS,
        "a new worker listening beside the survivor",
      );
    } finally {
      clearInterval(talk);
    }
    for (const client of survivors) {
      client.write("after\n");
      await client.waitFor(ackLine("after"));
      const expected = ["before", ...Array.from({ length: sent }, (_, i) => `during ${i + 1}`), "after"];
      expect(client.replies.lines).toEqual(expected.map(ack));
    }
    // The victim's clients lost their connection: that is what kill -9 does.
    for (const client of victims) expect(await client.closedByServer()).toBeDefined();

    // And the new worker serves.
    const late = await connectClients(10, server.port);
    clients.push(...late);
    for (const client of late) client.write("late\n");
    for (const client of late) await client.waitFor(ackLine("late"));
  } finally {
    for (const client of clients) client.end();
    expect(await server.stop("SIGTERM")).toBe(0);
  }
});

describe("stopping", () => {
  test("SIGTERM under 20 pipelining clients: every logged message acknowledged, the notice, exit 0", async () => {
    const server = await startWorkers();
    try {
      const peers = await connectClients(20, server.port);
      for (const [i, peer] of peers.entries()) pump(peer, `p${i}`);
      await eventually(() => peers.every((peer) => peer.receivedLines > 100), 20_000, "every peer served");
      const serving = servingPids(server.port);
      expect(new Set(peers.map((peer) => serving.get(peer.localPort))).size).toBe(2);

      expect(await server.stop("SIGTERM")).toBe(0);
      const total = await expectEveryLoggedMessageAcknowledged(peers, server.stdout.text);
      expect(total).toBeGreaterThan(20 * 100);
      expect(server.stderr.text.match(/\[SHUTTING DOWN\]/g)?.length).toBe(1);
      expect(server.stderr.text.match(/\[CLOSED\]/g)?.length).toBe(1);
    } finally {
      server.proc.kill("SIGKILL");
    }
  }, 60_000);

  test("a second SIGINT during the drain exits at once (130), and the workers go with it", async () => {
    // Without the second SIGINT the drain would wait 30 s for this client.
    const server = await startWorkers(["--drain-timeout", "30", "--close-timeout", "30"]);
    const workers = listeningPids(server.port);
    const client = await RawClient.connect(server.port);
    try {
      client.write("hi\n");
      await client.waitFor(ackLine("hi"));
      // It stops reading, so it never sees the goodbye and never hangs up: were it to read, it
      // would close at the server's FIN and the drain could end (exit 0) before the second SIGINT.
      client.pause();
      server.proc.kill("SIGINT");
      await server.stderr.waitFor("[SHUTTING DOWN]");
      server.proc.kill("SIGINT");
      expect(await withDeadline(server.proc.exited, 2000, "no exit at the second SIGINT")).toBe(130);
      await eventually(() => workers.every(isGone), DEADLINE_MS, "workers gone");
    } finally {
      client.end();
      server.proc.kill("SIGKILL");
    }
  });

  test("SIGTERM with a worker that cannot drain (SIGSTOP): it is killed at the deadline, and the log says which", async () => {
    const server = await startWorkers(["--drain-timeout", "0.2"]);
    const [stuck, other] = listeningPids(server.port);
    try {
      process.kill(stuck!, "SIGSTOP");
      server.proc.kill("SIGTERM");
      // Twice the drain timeout (the drain, then the last lines), and 2 s of grace.
      expect(await withDeadline(server.proc.exited, 6000, "the supervisor did not exit")).toBe(0);
      await server.stderr.done;
      expect(server.stderr.text).toMatch(/^\[WORKER\] [12] did not stop within 2\.4 s; killed$/m);
      expect(server.stderr.count(/did not stop/g)).toBe(1);
      await eventually(() => isGone(stuck!) && isGone(other!), DEADLINE_MS, "workers gone");
    } finally {
      for (const pid of [stuck!, other!]) if (!isGone(pid)) process.kill(pid, "SIGKILL");
    }
  });

  test("kill -9 of the supervisor: its workers notice and exit", async () => {
    const server = await startWorkers();
    const workers = listeningPids(server.port);
    try {
      server.proc.kill("SIGKILL");
      await eventually(() => workers.every(isGone), DEADLINE_MS, "workers gone after their supervisor");
      expect(listeningPids(server.port)).toEqual([]);
    } finally {
      for (const pid of workers) if (!isGone(pid)) process.kill(pid, "SIGKILL");
    }
  });

  test("SIGKILL while the first worker is still starting: that worker does not serve on with no parent", async () => {
    // Its "ready" to a supervisor that is gone never completed, and it stayed, listening, for good.
    // The workers go after it, when their channel closes; signalledWhileStarting fails unless
    // every one it saw is gone within the deadline.
    await signalledWhileStarting((supervisor) => supervisor.kill("SIGKILL"));
  });

  test("Ctrl+C to the whole process group while the workers start (before they take signals): exit 0, no failure", async () => {
    // The signal's default action ended a worker still loading: "[ERROR] worker 2 exited before
    // listening (signal SIGINT)" and exit 1; one that drained and exited 0 was "restarting".
    // Its own session, as a terminal's foreground job has its own process group.
    const { exitCode, stderr } = await signalledWhileStarting((supervisor) => process.kill(-supervisor.pid, "SIGINT"), {
      ownSession: true,
    });
    expect(exitCode).toBe(0);
    expect(stderr).not.toContain("[ERROR]");
    expect(stderr).not.toContain("restarting");
  });

  test("SIGTERM while the workers are still starting: the start ends, what started drains, and the exit is 0", async () => {
    // A service manager may stop what it has just started. The signal's default action ended the
    // supervisor with 143 and left its workers to notice on their own.
    const { exitCode, stderr, workersGoneWhenItExited } = await signalledWhileStarting((supervisor) =>
      supervisor.kill("SIGTERM"),
    );
    expect(exitCode).toBe(0);
    expect(stderr).not.toContain("[ERROR]");
    // Not announced, so no goodbye either: the stop came before the server was up.
    expect(stderr).not.toContain("[STARTING]");
    expect(stderr).not.toContain("[SHUTTING DOWN]");
    expect(workersGoneWhenItExited).toBe(true);
  });

  test("a worker that fails to listen while a stop is under way is still a failure: exit 1, with the reason", async () => {
    // Taken for stopped, a port taken between the supervisor's check and the worker's bind gave
    // exit 0 and no error: a server that never listened, reported as a clean stop.
    const port = freePort();
    let taken: { stop(closeActiveConnections?: boolean): void } | undefined;
    try {
      const { exitCode, stderr } = await signalledWhileStarting(
        (supervisor) => {
          taken = Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } });
          supervisor.kill("SIGINT");
        },
        { port },
      );
      expect(exitCode).toBe(1);
      expect(stderr).toContain(`[ERROR] Address 127.0.0.1:${port} is already in use`);
    } finally {
      taken?.stop(true);
    }
  });
});

test("1,000,000 messages from several clients through two workers into a pipe: 1,000,000 whole lines", async () => {
  const CLIENTS = 4;
  const PER_CLIENT = 250_000;
  const server = await startWorkers();
  try {
    const inputs = Array.from({ length: CLIENTS }, (_, k) =>
      Array.from({ length: PER_CLIENT }, (_, i) => `c${k}-${i}`),
    );
    const runs = inputs.map((lines) =>
      runProgram(SOURCE_CLIENT, ["--port", String(server.port), "--quiet"], {
        stdin: `${lines.join("\n")}\n`,
        deadlineMs: 60_000,
      }),
    );
    for (const run of await Promise.all(runs)) expect(run.exitCode).toBe(0);
    await server.stdout.waitForLines(CLIENTS * PER_CLIENT, 30_000);
    expect(await server.stop("SIGTERM")).toBe(0);

    const lines = server.stdout.text.split("\n");
    expect(lines.pop()).toBe("");
    expect(lines.length).toBe(CLIENTS * PER_CLIENT);
    const pattern = /^\[127\.0\.0\.1:\d+\] (.*)$/;
    const messages: string[] = [];
    const torn: string[] = [];
    for (const line of lines) {
      const match = pattern.exec(line);
      if (match) messages.push(match[1]!);
      else torn.push(line);
    }
    expect(torn.slice(0, 5)).toEqual([]);
    // The same multiset: sorted, each message once.
    const sent = inputs.flat().sort();
    messages.sort();
    let different = 0;
    for (let i = 0; i < sent.length; i++) if (sent[i] !== messages[i]) different++;
    expect(different).toBe(0);
  } finally {
    server.proc.kill("SIGKILL");
  }
}, 60_000);

test("--max-connections holds for the server as a whole: each worker serves its share", async () => {
  const server = await startWorkers(["--max-connections", "4"]);
  const clients = await connectClients(10, server.port);
  try {
    for (const client of clients) client.write("hi\n");
    await Promise.all(clients.map((client) => client.waitFor(/received successfully\n|ERROR server is full\n/)));
    const admitted = clients.filter((client) => client.replies.text === ackLine("hi")).length;
    const turnedAway = clients.filter((client) => client.replies.text === "ERROR server is full\n").length;
    expect(admitted + turnedAway).toBe(clients.length);
    // Shares of 2 and 2: never more than 4 in all, and each worker has room for its first 2.
    expect(admitted).toBeLessThanOrEqual(4);
    expect(admitted).toBeGreaterThanOrEqual(2);
    // The log names the limit the operator set, and the worker's share of it.
    await eventually(() => server.stderr.count(/server is full/g) === turnedAway, DEADLINE_MS, "a LIMIT line each");
    expect(server.stderr.lines.filter((line) => line.includes("server is full"))).toEqual(
      Array(turnedAway).fill(
        expect.stringMatching(/^\[LIMIT\] \S+ server is full \(4 connections, 2 of them on this worker\)$/),
      ),
    );
  } finally {
    for (const client of clients) client.end();
    expect(await server.stop("SIGTERM")).toBe(0);
  }
});

test("stdout nobody reads paces the workers: memory stays bounded, one warning, SIGTERM still exits 0", async () => {
  const MiB_IN_KiB = 1024;
  // Once the FIFO's buffer is full, the supervisor is behind.
  const stdout = stuckReader();
  const proc = Bun.spawn([...SOURCE_SERVER, "--port", "0", "--workers", "2", "--drain-timeout", "1"], {
    stdout: stdout.fd,
    stderr: "pipe",
    env: CHILD_ENV,
  });
  closeSync(stdout.fd);
  try {
    const stderr = new TextCollector(proc.stderr);
    const port = Number((await stderr.waitFor(/listening on [^:]+:(\d+)/))[1]);
    await eventually(() => listeningPids(port).length === 2, DEADLINE_MS, "two listeners");
    const processes = [proc.pid, ...listeningPids(port)];
    const memory = () => processes.map((pid) => memoryKiB(pid).rss);
    const before = memory();
    // 150 MB of message lines: without pacing they would pile up in the supervisor or the workers.
    const clients = Array.from({ length: 2 }, () =>
      runProgram(SOURCE_CLIENT, ["--port", String(port), "--quiet", "--response-timeout", "2"], {
        stdin: `${"x".repeat(100)}\n`.repeat(600_000),
        deadlineMs: 30_000,
      }),
    );
    // The server stopped reading, so the clients gave up waiting for their acks.
    for (const client of await Promise.all(clients)) expect(client.exitCode).toBe(5);
    // Each process holds what one server holds behind a stuck stdout (the bound of stuck-stdout's test).
    const growth = memory().map((rss, i) => rss - before[i]!);
    for (const kib of growth) expect(kib).toBeLessThan(40 * MiB_IN_KiB);
    const warning = "[WARNING] stdout is not keeping up: reading from clients pauses until it does\n";
    await stderr.waitFor(warning);
    expect(stderr.text.split(warning).length - 1).toBe(1);
    proc.kill("SIGTERM");
    expect(await withDeadline(proc.exited, 10_000, "the supervisor did not exit")).toBe(0);
  } finally {
    proc.kill("SIGKILL");
    stdout.cleanup();
  }
}, 60_000);

test("an address in use, for clients or metrics: exit 1 with the plain reason, once, and no worker left behind", async () => {
  const taken = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  try {
    const result = await runProgram(SOURCE_SERVER, ["--port", String(taken.port), "--workers", "2"]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe(`[ERROR] Address 127.0.0.1:${taken.port} is already in use\n`);
    expect(listeningPids(taken.port)).toEqual([process.pid]);
    // The metrics endpoint binds first: busy, it stops the program before any worker starts.
    const metrics = await runProgram(SOURCE_SERVER, [
      "--port",
      "0",
      "--workers",
      "2",
      "--metrics",
      `127.0.0.1:${taken.port}`,
      "--log-level",
      "debug",
    ]);
    expect(metrics.exitCode).toBe(1);
    expect(metrics.stderr).toBe(`[ERROR] Address 127.0.0.1:${taken.port} is already in use\n`);
  } finally {
    taken.stop(true);
  }
});

describe("a port another server holds while sharing it (SO_REUSEPORT) is in use too: exit 1, and that server keeps it alone", () => {
  test("another --workers server's port", async () => {
    const first = await startWorkers();
    try {
      const held = listeningPids(first.port);
      const result = await runProgram(SOURCE_SERVER, ["--port", String(first.port), "--workers", "2"]);
      expect(result).toEqual({
        exitCode: 1,
        stdout: "",
        stderr: `[ERROR] Address 127.0.0.1:${first.port} is already in use\n`,
      });
      expect(listeningPids(first.port)).toEqual(held);
    } finally {
      first.proc.kill("SIGKILL");
    }
  });

  test("a TLS server's port (a TLS listener shares its port, for certificate reloads)", async () => {
    using certs = makeCertificates();
    const tls = ["--tls-cert", certs.server.cert, "--tls-key", certs.server.key];
    const first = await startServerProcess(["--listen", "tls://127.0.0.1:0", ...tls]);
    try {
      const address = `tls://127.0.0.1:${first.port}`;
      const result = await runProgram(SOURCE_SERVER, ["--listen", address, ...tls, "--workers", "2"]);
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toBe(`[ERROR] Address ${address} is already in use\n`);
      expect(listeningPids(first.port)).toEqual([first.proc.pid]);
    } finally {
      first.proc.kill("SIGKILL");
    }
  });
});

test("--metrics with two workers: the supervisor serves it, a series per worker, each exact; /healthz drains", async () => {
  // The drain waits up to 30 s for the clients below, which stop reading: long enough for /healthz.
  const server = await startWorkers([
    "--metrics",
    "127.0.0.1:0",
    "--log-level",
    "debug",
    "--drain-timeout",
    "30",
    "--close-timeout",
    "30",
  ]);
  const clients = await connectClients(10, server.port);
  try {
    const url = await metricsUrl(server);
    expect(listeningPids(Number(new URL(url).port))).toEqual([server.proc.pid]);
    for (const [i, client] of clients.entries()) client.write(`a${i}\nb${i}\nc${i}\n`);
    for (const [i, client] of clients.entries()) await client.waitFor(ackLine(`c${i}`));

    // Which worker number each pid is, from the supervisor's debug lines; which pid serves whom, from ss.
    const workerOf = new Map(
      [...server.stderr.text.matchAll(/\[WORKER\] (\d+) started \(pid (\d+)\)/g)].map((m) => [Number(m[2]), m[1]!]),
    );
    const serving = servingPids(server.port);
    const perWorker: Record<string, number> = { "1": 0, "2": 0 };
    for (const client of clients) perWorker[workerOf.get(serving.get(client.localPort)!)!]! += 1;

    const { samples } = await scrape(url);
    for (const worker of ["1", "2"]) {
      expect({
        worker,
        accepted: samples.get(`socketlab_connections_accepted_total{worker="${worker}"}`),
        active: samples.get(`socketlab_connections_active{worker="${worker}"}`),
        messages: samples.get(`socketlab_messages_total{worker="${worker}"}`),
      }).toEqual({ worker, accepted: perWorker[worker], active: perWorker[worker], messages: 3 * perWorker[worker]! });
    }

    // A client that neither reads nor hangs up holds the drain open: /healthz says draining meanwhile.
    // Were they to read, they would close at the server's FIN, and the drain could end (and the
    // endpoint with it) before the fetch below: it did once, under load.
    const health = `${endpointBase(url)}healthz`;
    expect((await fetch(health)).status).toBe(200);
    for (const client of clients) client.pause();
    server.proc.kill("SIGTERM");
    await server.stderr.waitFor("[SHUTTING DOWN]");
    expect((await fetch(health)).status).toBe(503);
    for (const client of clients) client.end();
    expect(await withDeadline(server.proc.exited, DEADLINE_MS, "the supervisor did not exit")).toBe(0);
  } finally {
    for (const client of clients) client.end();
    server.proc.kill("SIGKILL");
  }
});

describe("compiled binaries", () => {
  let folder: string;
  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), "socket-lab-workers-"));
    await Promise.all([
      buildBinary({ entry: join(ROOT, ENTRY_POINTS.server), outfile: join(folder, "server") }),
      buildBinary({ entry: join(ROOT, MULTICALL_ENTRY), outfile: join(folder, "socket-lab") }),
    ]);
    // The release's link: the multi-call binary invoked as `server`.
    mkdirSync(join(folder, "links"));
    symlinkSync("../socket-lab", join(folder, "links", "server"));
  }, 60_000);
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  test.each([
    ["dist/server", ["server"], "server"],
    ["socket-lab server", ["socket-lab", "server"], "socket-lab"],
    ["the multi-call binary invoked as server", ["links/server"], "socket-lab"],
  ])("%s starts its workers from itself (no bun, no script) and serves", async (_, command, binary) => {
    const [program, ...subcommand] = command;
    const server = await startWorkers([], [join(folder, program!), ...subcommand]);
    try {
      for (const pid of listeningPids(server.port)) {
        expect(realpathSync(`/proc/${pid}/exe`)).toBe(realpathSync(join(folder, binary)));
      }
      const result = await runProgram(SOURCE_CLIENT, ["--port", String(server.port), "-m", "compiled"]);
      expect(result.stdout).toBe(ackLine("compiled"));
    } finally {
      expect(await server.stop("SIGTERM")).toBe(0);
    }
  });
});

describe("usage", () => {
  test.each([
    [["--workers", "0"], "--workers must be 'auto' or a whole number from 1 to 256, got '0'"],
    [["--workers", "x"], "--workers must be 'auto' or a whole number from 1 to 256, got 'x'"],
    [["--workers", "1000"], "--workers must be 'auto' or a whole number from 1 to 256, got '1000'"],
    [
      ["--workers", "3", "--max-connections", "2"],
      "--max-connections (2) must be at least --workers (3): each worker serves its share of the connections",
    ],
  ])("%p is a usage error", async (args, message) => {
    const result = await runProgram(SOURCE_SERVER, ["--port", "0", ...args], { env: CHILD_ENV });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toBe(`server: ${message}\nRun with --help for usage.\n`);
  });

  test("above 1 is refused off Linux, saying why; 1 is fine anywhere", () => {
    expect(() => parseWorkers("2", "darwin")).toThrow(
      new UsageError(
        "--workers above 1 needs Linux: it shares each port between processes with SO_REUSEPORT, which spreads connections only there (this is darwin)",
      ),
    );
    expect(parseWorkers("1", "win32")).toBe(1);
    expect(parseWorkers("auto")).toBe(navigator.hardwareConcurrency);
  });

  test("--workers 1 is one process, as before: no supervisor", async () => {
    const server = await startServerProcess(["--workers", "1"]);
    try {
      expect(listeningPids(server.port)).toEqual([server.proc.pid]);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});

describe("arithmetic", () => {
  test.each([
    [10, 2, [5, 5]],
    [10_000, 3, [3334, 3333, 3333]],
    [5, 4, [2, 1, 1, 1]],
    [2, 2, [1, 1]],
  ])("%p connections over %p workers: %p", (total, count, shares) => {
    const got = Array.from({ length: count }, (_, i) => shareOf(total, i + 1, count));
    expect(got).toEqual(shares);
    expect(got.reduce((a, b) => a + b, 0)).toBe(total);
  });

  test("restart backoff: doubles from 100 ms up to 5 s for quick deaths, starts over after a healthy run", () => {
    const backoff = new RestartBackoff();
    const quick = Array.from({ length: 9 }, () => backoff.next(50));
    expect(quick).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
    expect(backoff.next(HEALTHY_AFTER_MS)).toBe(100);
    expect(backoff.next(10)).toBe(200);
  });
});
