// --metrics HOST:PORT on a real server process: what Prometheus scrapes from /metrics after a
// known workload (every counter exact), what promtool says of it, and /healthz through a drain,
// the way a balancer sees it. Clients are raw sockets, so every byte is counted by the test too.
import { describe, expect, test } from "bun:test";
import { startServer } from "socket-lab";
import { startMetricsServer } from "socket-lab/metrics";
import pkg from "../package.json" with { type: "json" };
import { endpointBase, family, metricsUrl, scrape } from "./helpers/metrics.ts";
import {
  DEADLINE_MS,
  runProgram,
  type ServerProcess,
  SOURCE_SERVER,
  stopAfterEachTest,
  withDeadline,
} from "./helpers/processes.ts";
import { connectClients, RawClient } from "./helpers/sockets.ts";
import { ackLine, SHUTDOWN_NOTICE_LINE } from "./helpers/spec.ts";

const started = stopAfterEachTest();
const { clients, connect } = started;

/** A server with its metrics on a free loopback port; returns it and the URL it announced. */
async function serve(args: string[] = [], metrics = "127.0.0.1:0"): Promise<{ server: ServerProcess; url: string }> {
  const server = await started.serve(["--metrics", metrics, ...args]);
  return { server, url: await metricsUrl(server) };
}

const bytes = (text: string) => Buffer.byteLength(text);

async function get(url: string, init?: RequestInit): Promise<{ status: number; body: string }> {
  const response = await fetch(url, init);
  return { status: response.status, body: await response.text() };
}

describe("/metrics", () => {
  test("after a known workload every socketlab_ series equals it", async () => {
    const { server, url } = await serve(["--max-connections", "3", "--max-message-bytes", "64"]);
    // M = 3 connections, N = 4 messages each (one of them not ASCII: bytes are not characters).
    const served = await connectClients(3, server.port);
    clients.push(...served);
    let receivedBytes = 0;
    for (const [i, client] of served.entries()) {
      const messages = [`hello ${i}`, "", "ünï 😀", `last from ${i}`];
      const input = messages.map((message) => `${message}\n`).join("");
      client.write(input);
      receivedBytes += bytes(input);
      await client.waitFor(messages.map(ackLine).join(""));
    }
    // One rejection: the server is full.
    const turnedAway = await connect(server);
    await turnedAway.waitFor("ERROR server is full\n");
    await turnedAway.closedByServer();
    // One limit hit: a message past --max-message-bytes ends its connection.
    const tooLong = `${"x".repeat(100)}\n`;
    served[0]!.write(tooLong);
    receivedBytes += bytes(tooLong);
    await served[0]!.waitFor("ERROR message too long (limit 64 bytes)\n");
    await served[0]!.closedByServer();
    await server.stderr.waitFor(`[DISCONNECTED] 127.0.0.1:${served[0]!.localPort} disconnected\n`);

    const { status, contentType, samples } = await scrape(url);
    expect(status).toBe(200);
    expect(contentType).toStartWith("text/plain; version=0.0.4");
    // What the clients received is what the kernel took from the server: acks and notices.
    const sentBytes = [...served, turnedAway].reduce((sum, client) => sum + bytes(client.replies.text), 0);
    expect(family(samples, "socketlab_")).toEqual({
      [`socketlab_build_info{version="${pkg.version}"}`]: 1,
      socketlab_connections_active: 2,
      socketlab_connections_accepted_total: 3,
      'socketlab_connections_rejected_total{reason="full"}': 1,
      'socketlab_connections_rejected_total{reason="denied"}': 0,
      'socketlab_connections_rejected_total{reason="per-address"}': 0,
      'socketlab_connections_rejected_total{reason="proxy"}': 0,
      'socketlab_connections_rejected_total{reason="shutting-down"}': 0,
      socketlab_messages_total: 12,
      socketlab_received_bytes_total: receivedBytes,
      socketlab_sent_bytes_total: sentBytes,
      'socketlab_limit_hits_total{limit="connections"}': 1,
      'socketlab_limit_hits_total{limit="message-bytes"}': 1,
      'socketlab_limit_hits_total{limit="idle"}': 0,
      'socketlab_limit_hits_total{limit="output"}': 0,
      socketlab_undelivered_reply_bytes_total: 0,
    });
  });

  test("promtool check metrics finds nothing; the process metrics are there", async () => {
    const { server, url } = await serve();
    const client = await connect(server);
    client.write("one\ntwo\n");
    await client.waitFor(ackLine("one") + ackLine("two"));
    const { text, samples } = await scrape(url);

    const promtool = Bun.spawn(["promtool", "check", "metrics"], {
      stdin: new Blob([text]),
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err, code] = await withDeadline(
      Promise.all([new Response(promtool.stdout).text(), new Response(promtool.stderr).text(), promtool.exited]),
      DEADLINE_MS,
      "promtool did not finish",
    );
    expect({ code, out, err }).toEqual({ code: 0, out: "", err: "" });
    expect(samples.get("socketlab_messages_total")).toBe(2);
    // Memory, CPU and open files of the server process (its listeners and the client are open fds).
    expect(samples.get("process_resident_memory_bytes")).toBeGreaterThan(0);
    expect(samples.get("process_cpu_seconds_total")).toBeGreaterThan(0);
    expect(samples.get("process_open_fds")).toBeGreaterThanOrEqual(3);
    expect(samples.get("nodejs_heap_size_used_bytes")).toBeGreaterThan(0);
    // V8's heap spaces, which Bun does not have (all but one 0), are left out: they cost each scrape 4 ms.
    expect(text).not.toContain("nodejs_heap_space_");
  });

  test("other paths are 404, other methods 405; HEAD answers without a body", async () => {
    const { url } = await serve();
    const base = endpointBase(url);
    const answers = {
      "GET /nope": await get(`${base}nope`),
      "POST /metrics": await get(url, { method: "POST", body: "x" }),
      "DELETE /healthz": await get(`${base}healthz`, { method: "DELETE" }),
      "HEAD /healthz": await get(`${base}healthz`, { method: "HEAD" }),
    };
    expect(answers).toEqual({
      "GET /nope": { status: 404, body: "not found" },
      "POST /metrics": { status: 405, body: "method not allowed" },
      "DELETE /healthz": { status: 405, body: "method not allowed" },
      "HEAD /healthz": { status: 200, body: "" },
    });
    expect((await fetch(url, { method: "PUT" })).headers.get("allow")).toBe("GET, HEAD");
  });

  test.each([
    ["HTTP/1.0 with no Host header", "GET /healthz HTTP/1.0\r\n\r\n"],
    ["an empty Host header", "GET /healthz HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n"],
    ["a Host header that is no host", "GET /healthz HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n"],
  ])("a health check with %s is answered 200 ok (HAProxy's httpchk sends such requests)", async (_, request) => {
    const { url } = await serve();
    const client = await RawClient.connect(Number(new URL(url).port));
    try {
      client.write(request);
      await client.waitFor(/\r\n\r\nok$/);
      expect(client.replies.text).toStartWith("HTTP/1.1 200 OK\r\n");
    } finally {
      client.end();
    }
  });

  test("[::1]:0 listens on IPv6 and announces the URL in brackets; --json says it as a metrics event", async () => {
    const server = await started.serve(["--json", "--metrics", "[::1]:0"]);
    const [line] = await server.stderr.waitFor(/\{[^\n]*"event":"metrics"[^\n]*\}/);
    const event = JSON.parse(line!);
    expect(event).toMatchObject({ event: "metrics", host: "::1", url: `http://[::1]:${event.port}/metrics` });
    expect(event.port).toBeGreaterThan(0);
    expect((await scrape(event.url)).samples.get("socketlab_connections_active")).toBe(0);
  });
});

describe("/healthz", () => {
  test("200 ok while serving; 503 draining from SIGTERM while a client still holds the drain open; gone after exit", async () => {
    const { server, url } = await serve(["--drain-timeout", "30", "--close-timeout", "30"]);
    const health = `${endpointBase(url)}healthz`;
    expect(await get(health)).toEqual({ status: 200, body: "ok" });

    const holder = await connect(server);
    holder.write("before\n");
    await holder.waitFor(ackLine("before"));
    // A client that does not read never takes its goodbye: the drain waits for it.
    holder.pause();
    server.proc.kill("SIGTERM");
    await server.stderr.waitFor("[SHUTTING DOWN] Server is shutting down...\n");
    expect(await get(health)).toEqual({ status: 503, body: "draining" });
    // Still draining: the listeners are not closed and the process is up.
    expect(server.stderr.text).not.toContain("[CLOSED]");
    expect(server.proc.exitCode).toBeNull();
    expect((await scrape(url)).samples.get("socketlab_connections_active")).toBe(1);

    holder.resume();
    await holder.waitFor(SHUTDOWN_NOTICE_LINE);
    expect(await withDeadline(server.proc.exited, DEADLINE_MS, "server did not exit")).toBe(0);
    expect(server.stderr.text).toContain("[CLOSED] Server socket closed\n");
    await expect(fetch(health)).rejects.toThrow();
  });
});

describe("--metrics values and failures", () => {
  test.each([
    "127.0.0.1",
    "127.0.0.1:",
    ":9100",
    "127.0.0.1:65536",
    "127.0.0.1:http",
    "::1:9100",
    "[::1]",
    "[localhost]:9100",
    "http://127.0.0.1:9100",
    "127.0.0.1:9100/metrics",
    "",
  ])("%p is a usage error", async (value) => {
    const result = await runProgram(SOURCE_SERVER, ["--port", "0", "--metrics", value]);
    expect(result).toEqual({
      exitCode: 2,
      stdout: "",
      stderr: `server: --metrics must be HOST:PORT or [IPV6]:PORT with a port from 0 to 65535, got '${value}'\nRun with --help for usage.\n`,
    });
  });

  test("a busy metrics port is exit 1 with one plain line", async () => {
    using busy = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const result = await runProgram(SOURCE_SERVER, ["--port", "0", "--metrics", `127.0.0.1:${busy.port}`]);
    expect(result).toEqual({
      exitCode: 1,
      stdout: "",
      stderr: `[ERROR] Address 127.0.0.1:${busy.port} is already in use\n`,
    });
  });

  test("a metrics port another server's --metrics holds is busy too, and that server keeps it alone", async () => {
    // Both bound it before (SO_REUSEPORT), and the kernel split scrapes between the two processes.
    const { url } = await serve();
    const { port } = new URL(url);
    const result = await runProgram(SOURCE_SERVER, ["--port", "0", "--metrics", `127.0.0.1:${port}`]);
    expect(result).toEqual({
      exitCode: 1,
      stdout: "",
      stderr: `[ERROR] Address 127.0.0.1:${port} is already in use\n`,
    });
  });

  test("a host name that does not resolve is said so, not taken for a busy port", async () => {
    const result = await runProgram(SOURCE_SERVER, ["--port", "0", "--metrics", "no-such-host.invalid:0"]);
    expect(result).toEqual({ exitCode: 1, stdout: "", stderr: "[ERROR] Cannot resolve host no-such-host.invalid\n" });
  });
});

describe("socket-lab/metrics, fed by several servers (as a supervisor is by its workers)", () => {
  /** A server in this process that has served `messages` messages over one connection, still open. */
  async function serverThatServed(messages: number) {
    const server = startServer({ host: "127.0.0.1", port: 0 });
    const client = await RawClient.connect(server.port);
    clients.push(client);
    const lines = Array.from({ length: messages }, (_, i) => `m${i}`);
    client.write(lines.map((line) => `${line}\n`).join(""));
    await client.waitFor(lines.map(ackLine).join(""));
    return { server, sent: bytes(lines.map((line) => `${line}\n`).join("")), received: bytes(client.replies.text) };
  }

  test("snapshots with a worker label keep their own series; without one they are summed; either way the sum is exact", async () => {
    const one = await serverThatServed(3);
    const two = await serverThatServed(5);
    const collect = async () => [
      { worker: "1", ...one.server.snapshot() },
      { worker: "2", ...two.server.snapshot() },
    ];
    const labelled = await startMetricsServer({
      host: "127.0.0.1",
      port: 0,
      version: pkg.version,
      collect,
      health: () => "serving",
    });
    const summed = await startMetricsServer({
      host: "127.0.0.1",
      port: 0,
      version: pkg.version,
      collect: async () => (await collect()).map(({ worker: _, ...snapshot }) => snapshot),
      health: () => "serving",
    });
    try {
      const perWorker = (await scrape(labelled.url)).samples;
      expect(family(perWorker, "socketlab_messages_total")).toEqual({
        'socketlab_messages_total{worker="1"}': 3,
        'socketlab_messages_total{worker="2"}': 5,
      });
      expect(perWorker.get('socketlab_connections_rejected_total{worker="2",reason="full"}')).toBe(0);
      const total = (await scrape(summed.url)).samples;
      expect({
        messages: total.get("socketlab_messages_total"),
        active: total.get("socketlab_connections_active"),
        received: total.get("socketlab_received_bytes_total"),
        sent: total.get("socketlab_sent_bytes_total"),
        full: total.get('socketlab_connections_rejected_total{reason="full"}'),
      }).toEqual({ messages: 8, active: 2, received: one.sent + two.sent, sent: one.received + two.received, full: 0 });
    } finally {
      await Promise.all([labelled.stop(), summed.stop()]);
      for (const client of clients.splice(0)) client.terminate();
      one.server.kill();
      two.server.kill();
    }
  });

  test("a collect that fails answers the scrape with 500 and its reason; the endpoint goes on", async () => {
    let fail = true;
    const endpoint = await startMetricsServer({
      host: "127.0.0.1",
      port: 0,
      version: pkg.version,
      collect: async () => {
        if (fail) throw new Error("worker 2 did not answer");
        return [];
      },
      health: () => "serving",
    });
    try {
      expect(await get(endpoint.url)).toEqual({ status: 500, body: "cannot collect metrics: worker 2 did not answer" });
      fail = false;
      expect((await scrape(endpoint.url)).status).toBe(200);
      expect(await get(`${endpointBase(endpoint.url)}healthz`)).toEqual({ status: 200, body: "ok" });
    } finally {
      await endpoint.stop();
    }
  });
});
