// The servers the suite compares, each started on loopback on a free port, pinned to the server
// core where taskset exists, and stopped for sure.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { freePort } from "../harness/ports.ts";

export const ROOT = join(import.meta.dir, "..");
export const DIST_SERVER = join(ROOT, "dist", "server");
export const DIST_CLIENT = join(ROOT, "dist", "client");
const NODE_SERVER = join(import.meta.dir, "node-server.mjs");
const BARE_BUN_SERVER = join(import.meta.dir, "bare-server.mjs");
const PYTHON_SERVER = join(ROOT, "..", "shared", "seed", "server.py");

export type ServerId =
  | "socket-lab"
  | "socket-lab-workers"
  | "socket-lab-file"
  | "socket-lab-raw"
  | "socket-lab-tls"
  | "socket-lab-proxy"
  | "bare-bun"
  | "node"
  | "redis"
  | "redis-tls"
  | "python";

/** The PEM files a TLS server in the suite serves with, and the CA the generator trusts. */
export interface BenchCertificates {
  ca: string;
  cert: string;
  key: string;
}

export interface ServerKind {
  id: ServerId;
  label: string;
  framing: "line" | "raw";
  /** What the generator sends: redis-server answers PING with +PONG. */
  message: string;
  /** Why it cannot run here, or undefined when it can. */
  missing(): string | undefined;
  /** The generator connects with TLS, and `command` gets the certificates to serve. */
  tls?: true;
  command(port: number, certificates?: BenchCertificates): string[];
  /** Where its stdout goes: a file only for socket-lab with per-message output. */
  stdoutToFile?: boolean;
  /** Worker processes sharing the port (--workers): the suite also measures how evenly they share it. */
  workers?: number;
  /** The generator starts each connection with a PROXY v1 header (--send-proxy). */
  sendProxy?: true;
}

/** The tutorial's port, replaced so that the suite never depends on a fixed one. */
const TUTORIAL_PORT_LINE = "port = 12345";

export const SERVERS: Record<ServerId, ServerKind> = {
  "socket-lab": {
    id: "socket-lab",
    label: "socket-lab --quiet",
    framing: "line",
    message: "ping",
    missing: () => (existsSync(DIST_SERVER) ? undefined : "dist/server not built"),
    command: (port) => [DIST_SERVER, "--port", String(port), "--quiet"],
  },
  "socket-lab-workers": {
    id: "socket-lab-workers",
    label: "socket-lab --workers 2 --quiet",
    framing: "line",
    message: "ping",
    missing: () =>
      !existsSync(DIST_SERVER)
        ? "dist/server not built"
        : process.platform !== "linux"
          ? "--workers needs Linux"
          : !Bun.which("ss")
            ? "ss (iproute2) is not installed"
            : undefined,
    command: (port) => [DIST_SERVER, "--port", String(port), "--quiet", "--workers", "2"],
    workers: 2,
  },
  "socket-lab-file": {
    id: "socket-lab-file",
    label: "socket-lab > file",
    framing: "line",
    message: "ping",
    missing: () => (existsSync(DIST_SERVER) ? undefined : "dist/server not built"),
    command: (port) => [DIST_SERVER, "--port", String(port)],
    stdoutToFile: true,
  },
  "socket-lab-raw": {
    id: "socket-lab-raw",
    label: "socket-lab --framing raw --quiet",
    framing: "raw",
    message: "ping",
    missing: () => (existsSync(DIST_SERVER) ? undefined : "dist/server not built"),
    command: (port) => [DIST_SERVER, "--port", String(port), "--quiet", "--framing", "raw"],
  },
  "socket-lab-proxy": {
    id: "socket-lab-proxy",
    label: "socket-lab --proxy-protocol --quiet",
    framing: "line",
    message: "ping",
    sendProxy: true,
    missing: () => (existsSync(DIST_SERVER) ? undefined : "dist/server not built"),
    command: (port) => [DIST_SERVER, "--port", String(port), "--quiet", "--proxy-protocol"],
  },
  "socket-lab-tls": {
    id: "socket-lab-tls",
    label: "socket-lab tls:// --quiet",
    framing: "line",
    message: "ping",
    tls: true,
    missing: () => (existsSync(DIST_SERVER) ? undefined : "dist/server not built"),
    command: (port, certificates) => [
      DIST_SERVER,
      ...["--listen", `tls://127.0.0.1:${port}`, "--tls-cert", certificates!.cert, "--tls-key", certificates!.key],
      "--quiet",
    ],
  },
  "bare-bun": {
    id: "bare-bun",
    label: `bare Bun.listen ack server (bun ${Bun.version})`,
    framing: "line",
    message: "ping",
    missing: () => undefined,
    // The Bun that runs the suite: the same runtime as the compiled dist/server.
    command: (port) => [process.execPath, BARE_BUN_SERVER, String(port)],
  },
  node: {
    id: "node",
    label: `node:net reference (node ${nodeVersion() ?? "?"})`,
    framing: "line",
    message: "ping",
    missing: () => (Bun.which("node") ? undefined : "node is not installed"),
    command: (port) => ["node", NODE_SERVER, String(port)],
  },
  redis: {
    id: "redis",
    label: "redis-server PING",
    framing: "line",
    message: "PING",
    missing: () => (Bun.which("redis-server") ? undefined : "redis-server is not installed"),
    // Room for 10,000 clients: redis lowers maxclients to what `ulimit -n` allows.
    command: (port) => [
      "sh",
      "-c",
      `ulimit -n 20000 2>/dev/null || ulimit -n $(ulimit -Hn); exec redis-server --port ${port} --bind 127.0.0.1 --save '' --appendonly no --maxclients 10100 --loglevel warning`,
    ],
  },
  "redis-tls": {
    id: "redis-tls",
    label: "redis-server PING over --tls-port",
    framing: "line",
    message: "PING",
    tls: true,
    missing: () => (Bun.which("redis-server") ? redisTlsMissing() : "redis-server is not installed"),
    // Its plaintext port off (--port 0): every client comes through TLS, as with socket-lab's.
    command: (port, certificates) => [
      "sh",
      "-c",
      `ulimit -n 20000 2>/dev/null || ulimit -n $(ulimit -Hn); exec redis-server --port 0 --tls-port ${port} --tls-cert-file ${certificates!.cert} --tls-key-file ${certificates!.key} --tls-ca-cert-file ${certificates!.ca} --tls-auth-clients no --bind 127.0.0.1 --save '' --appendonly no --maxclients 10100 --loglevel warning`,
    ],
  },
  python: {
    id: "python",
    label: "tutorial server.py (raw)",
    framing: "raw",
    message: "ping",
    missing: () =>
      !Bun.which("python3")
        ? "python3 is not installed"
        : !existsSync(PYTHON_SERVER)
          ? `${PYTHON_SERVER} not found`
          : undefined,
    command: (port) => [
      "python3",
      "-c",
      readFileSync(PYTHON_SERVER, "utf8").replace(TUTORIAL_PORT_LINE, `port = ${port}`),
    ],
  },
};

export interface RunningServer {
  kind: ServerKind;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** Starts a server pinned to `cpu` (if given) and waits until it accepts connections. */
export async function startServer(
  kind: ServerKind,
  cpu: string | undefined,
  outputFile: string,
  certificates?: BenchCertificates,
): Promise<RunningServer> {
  const port = freePort();
  const command = kind.command(port, certificates);
  // sh -c execs redis-server, and taskset execs its command: the pid is the server's own.
  const pinned = cpu === undefined ? command : pinCommand(command, cpu);
  const proc = Bun.spawn(pinned, {
    stdin: "ignore",
    stdout: kind.stdoutToFile ? Bun.file(outputFile) : "ignore",
    stderr: "ignore",
    env: { ...process.env, NO_COLOR: "1", NODE_ENV: "production" },
  });
  try {
    await waitUntilAccepting(port, proc);
  } catch (error) {
    proc.kill("SIGKILL");
    throw error;
  }
  return { kind, port, pid: proc.pid, stop: () => stopProcess(proc) };
}

/** taskset execs the command; with sh -c, the shell execs it too, so the pid stays the server's. */
function pinCommand(command: string[], cpu: string): string[] {
  if (command[0] === "sh") return ["sh", "-c", command[2]!.replace("exec ", `exec taskset -c ${cpu} `)];
  return ["taskset", "-c", cpu, ...command];
}

export async function stopProcess(proc: Subprocess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill("SIGTERM");
  const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(3000).then(() => false)]);
  if (!exited) {
    proc.kill("SIGKILL");
    await proc.exited;
  }
}

async function waitUntilAccepting(port: number, proc: Subprocess): Promise<void> {
  const deadline = performance.now() + 10_000;
  while (performance.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`server exited with code ${proc.exitCode} before listening`);
    try {
      const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {}, connectError() {} } });
      socket.end();
      return;
    } catch {
      await Bun.sleep(20);
    }
  }
  throw new Error(`server on port ${port} did not accept connections within 10 s`);
}

/**
 * Debian builds redis with TLS. Asked to start with an unknown directive after --tls-port, redis
 * stops at the first directive it does not know: `tls-port` itself in a build without TLS.
 */
function redisTlsMissing(): string | undefined {
  const probe = Bun.spawnSync(["redis-server", "--port", "0", "--tls-port", "0", "--socket-lab-probe", "1"], {
    stderr: "pipe",
    stdout: "pipe",
  });
  return `${probe.stdout}${probe.stderr}`.includes("'tls-port") ? "this redis-server was built without TLS" : undefined;
}

function nodeVersion(): string | undefined {
  if (!Bun.which("node")) return undefined;
  return Bun.spawnSync(["node", "--version"]).stdout.toString().trim().replace(/^v/, "");
}

/**
 * How many of the connections to `port` each process serves, most first: for a server of several
 * processes (--workers), how evenly the kernel spread them. Read from `ss -p`.
 */
export function connectionsPerProcess(port: number): number[] {
  const out = Bun.spawnSync(["ss", "-Htnp", "state", "established", `sport = :${port}`]).stdout.toString();
  const counts = new Map<string, number>();
  for (const match of out.matchAll(/pid=(\d+)/g)) counts.set(match[1]!, (counts.get(match[1]!) ?? 0) + 1);
  return [...counts.values()].sort((a, b) => b - a);
}
