// The metrics endpoint's HTTP, as scrapers, balancers and abusers speak it over raw sockets: keep-
// alive and pipelined requests answered in order, bodies skipped, and every bound (connections
// at once, head size and time, body size) answered with its status. Then the same cap on a real
// server process, whose message clients must not notice a crowd on its metrics port.
import { afterEach, describe, expect, test } from "bun:test";
import { type MetricsServer, startMetricsServer } from "socket-lab/metrics";
import {
  DEFAULT_MAX_HTTP_CONNECTIONS,
  listenHttp,
  MAX_REQUEST_BODY_BYTES,
  MAX_REQUEST_HEAD_BYTES,
} from "../src/server/metrics/http-listener.ts";
import { metricsUrl } from "./helpers/metrics.ts";
import { runProgram, SOURCE_SERVER, startServerProcess, withDeadline } from "./helpers/processes.ts";
import { RawClient } from "./helpers/sockets.ts";
import { ackLine } from "./helpers/spec.ts";

const endpoints: MetricsServer[] = [];
const raw: RawClient[] = [];
afterEach(async () => {
  for (const client of raw.splice(0)) client.terminate();
  for (const endpoint of endpoints.splice(0)) await endpoint.stop();
});

async function endpoint(options: { maxConnections?: number; requestTimeoutMs?: number } = {}) {
  const started = await startMetricsServer({
    host: "127.0.0.1",
    port: 0,
    version: "0.0.0-test",
    collect: async () => [],
    health: () => "serving",
    ...options,
  });
  endpoints.push(started);
  return started;
}

async function connect(port: number): Promise<RawClient> {
  const client = await RawClient.connect(port);
  raw.push(client);
  return client;
}

/** The status lines of the responses received so far, in order. */
const statusLines = (client: RawClient) => client.replies.text.match(/HTTP\/1\.1 \d{3} [^\r]*/g) ?? [];

describe("requests", () => {
  test("keep-alive: requests pipelined in one write are answered in order on the one connection", async () => {
    const { port } = await endpoint();
    const client = await connect(port);
    client.write(
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" +
        "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n" +
        "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n" +
        "GET /healthz?probe=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    expect(await client.closedByServer()).toBe("end");
    expect(statusLines(client)).toEqual([
      "HTTP/1.1 200 OK",
      "HTTP/1.1 200 OK",
      "HTTP/1.1 404 Not Found",
      "HTTP/1.1 200 OK",
    ]);
    // HEAD: the length GET's body would have, and no body (the next response follows at once).
    expect(client.replies.text).toMatch(/content-length: [1-9]\d*\r\n\r\nHTTP\/1\.1 404/);
  });

  test("a request's body is skipped, so the next request on the connection is read as one", async () => {
    const { port } = await endpoint();
    const client = await connect(port);
    client.write("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nGET / HTTP/");
    await client.waitFor(/405 Method Not Allowed[\s\S]*method not allowed$/);
    expect(client.replies.text).toContain("allow: GET, HEAD\r\n");
    client.write("GET /healthz HTTP/1.1\r\n\r\n");
    await client.waitFor(/\r\n\r\nok$/);
    expect(statusLines(client)).toEqual(["HTTP/1.1 405 Method Not Allowed", "HTTP/1.1 200 OK"]);
  });

  test.each([
    ["an absolute-form target", "GET http://metrics.example:9100/healthz HTTP/1.1\r\n\r\n", "200 OK"],
    ["bare LF line ends", "GET /healthz HTTP/1.1\nHost: x\n\n", "200 OK"],
    ["HTTP/1.0 (answered, then closed)", "GET /healthz HTTP/1.0\r\n\r\n", "200 OK"],
    ["a request line that is not HTTP", "hello there\r\n\r\n", "400 Bad Request"],
    ["HTTP/2's preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "505 HTTP Version Not Supported"],
    ["a header line without a colon", "GET /healthz HTTP/1.1\r\nHost x\r\n\r\n", "400 Bad Request"],
    ["a path that names a built-in property", "GET /__proto__ HTTP/1.1\r\nConnection: close\r\n\r\n", "404 Not Found"],
    ["a target that is no path", "GET constructor HTTP/1.1\r\nConnection: close\r\n\r\n", "404 Not Found"],
    [
      "two Content-Lengths that disagree",
      "GET /healthz HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      "400 Bad Request",
    ],
  ])("%s: %s", async (name, request, status) => {
    const { port } = await endpoint();
    const client = await connect(port);
    client.write(request);
    await client.waitFor(new RegExp(`^HTTP/1\\.1 ${status}\\r\\n`));
    if (status !== "200 OK" || name.startsWith("HTTP/1.0")) {
      expect(await client.closedByServer()).toBe("end");
      expect(client.replies.text).toContain("connection: close\r\n");
    }
  });
});

describe("bounds", () => {
  test(`a request head over ${MAX_REQUEST_HEAD_BYTES} bytes is 431, and the connection closes`, async () => {
    const { port } = await endpoint();
    const client = await connect(port);
    client.write(`GET /healthz HTTP/1.1\r\nX-Filler: ${"a".repeat(MAX_REQUEST_HEAD_BYTES)}\r\n`);
    await client.waitFor(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    expect(await client.closedByServer()).toBe("end");
  });

  test(`a body over ${MAX_REQUEST_BODY_BYTES} bytes is 413, and the connection closes before it is sent`, async () => {
    const { port } = await endpoint();
    const client = await connect(port);
    client.write(`POST /metrics HTTP/1.1\r\nContent-Length: ${MAX_REQUEST_BODY_BYTES + 1}\r\n\r\n`);
    await client.waitFor(/^HTTP\/1\.1 413 Content Too Large\r\n/);
    expect(await client.closedByServer()).toBe("end");
  });

  test("a body too large that is still arriving: the client can send it all, then reads the 413 and the close", async () => {
    // A simple client (curl, a script) sends its whole body before it reads. Closed with the body's
    // rest unread, the endpoint reset the connection: the rest of the body failed with EPIPE, and a
    // client that stops at a send error (curl's "Send failure") never read the 413. python3's
    // socket reads nothing until asked, as such a client.
    const { port } = await endpoint();
    const script = [
      "import socket, sys, time",
      `s = socket.create_connection(("127.0.0.1", ${port}))`,
      'body = b"b" * 200000',
      's.sendall(b"POST /metrics HTTP/1.1\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(body))',
      "sent = 0",
      "try:",
      "    while sent < len(body):",
      "        s.sendall(body[sent:sent + 16384]); sent += 16384; time.sleep(0.01)",
      "except OSError as e:",
      '    print("send failed:", e)',
      'reply = b""',
      "while True:",
      "    part = s.recv(65536)",
      "    if not part: break",
      "    reply += part",
      "sys.stdout.write(reply.decode())",
    ].join("\n");
    const result = await runProgram(["python3", "-c", script], [], { deadlineMs: 20_000 });
    expect(result.stdout).toMatch(/^HTTP\/1\.1 413 Content Too Large\r\n/);
    expect(result.stdout).toEndWith("request body too large");
  });

  test("a closing connection whose client does not read is cut off at the close deadline, not kept", async () => {
    // 20 MB for one request, with a close: more than the socket buffers take, so most of it waits
    // for a reader that never reads. The request timeout is long: only the close's deadline can end it.
    const listener = listenHttp({
      hostname: "127.0.0.1",
      port: 0,
      maxConnections: 1,
      requestTimeoutMs: 60_000,
      handle: (request) => ({ status: 200, body: request.path === "/big" ? "x".repeat(20_000_000) : "ok" }),
    });
    try {
      const client = await connect(listener.port);
      client.pause();
      client.write("GET /big HTTP/1.1\r\nConnection: close\r\n\r\n");
      const served = await withDeadline(
        (async () => {
          for (;;) {
            const other = await connect(listener.port);
            other.write("GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
            await other.closedByServer();
            if (other.replies.text.startsWith("HTTP/1.1 200 OK")) return other.replies.text;
            await Bun.sleep(100);
          }
        })(),
        10_000,
        "a place on the listener",
      );
      expect(served).toEndWith("\r\n\r\nok");
    } finally {
      listener.stop();
    }
  });

  test("a head that does not arrive whole in time is 408; an idle kept-alive connection is closed", async () => {
    const { port } = await endpoint({ requestTimeoutMs: 300 });
    const slow = await connect(port);
    slow.write("GET /healthz HTTP/1.1\r\nHost: x\r\n");
    const idle = await connect(port);
    idle.write("GET /healthz HTTP/1.1\r\n\r\n");
    await idle.waitFor(/\r\n\r\nok$/);
    expect(await slow.closedByServer()).toBe("end");
    expect(slow.replies.text).toStartWith("HTTP/1.1 408 Request Timeout\r\n");
    expect(await idle.closedByServer()).toBe("end");
    expect(statusLines(idle)).toEqual(["HTTP/1.1 200 OK"]);
  });

  test("past the connection cap: 503 and closed at once; a place that frees up is a place", async () => {
    const { port } = await endpoint({ maxConnections: 3 });
    const held = await Promise.all([1, 2, 3].map(() => connect(port)));
    const turnedAway = await connect(port);
    expect(await turnedAway.closedByServer()).toBe("end");
    expect(turnedAway.replies.text).toStartWith("HTTP/1.1 503 Service Unavailable\r\n");
    expect(turnedAway.replies.text).toEndWith("too many connections");
    held[0]!.end();
    await held[0]!.closedByServer();
    // The close reaches the server a moment after the client's own end: ask until it has.
    let answered = "";
    for (let attempt = 0; attempt < 50 && !answered.includes("\r\n\r\nok"); attempt++) {
      const client = await connect(port);
      client.write("GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n");
      await client.closedByServer();
      answered = client.replies.text;
      if (!answered.includes("\r\n\r\nok")) await Bun.sleep(20);
    }
    expect(answered).toStartWith("HTTP/1.1 200 OK\r\n");
  });

  test("a client that never reads its responses stops being answered until it reads; others are served meanwhile", async () => {
    let scrapes = 0;
    const started = await startMetricsServer({
      host: "127.0.0.1",
      port: 0,
      version: "0.0.0-test",
      collect: async () => {
        scrapes++;
        return [];
      },
      health: () => "serving",
    });
    endpoints.push(started);
    const { port } = started;
    const greedy = await connect(port);
    greedy.pause();
    // 4,000 scrapes, some 30 MB of responses, which it does not read.
    greedy.write("GET /metrics HTTP/1.1\r\n\r\n".repeat(4_000));
    const settled = async () => {
      for (let last = -1; last !== scrapes; await Bun.sleep(200)) last = scrapes;
      return scrapes;
    };
    // Answered as far as the socket buffers and the 1 MiB the endpoint keeps for it take, then not.
    const answered = await settled();
    expect(answered).toBeLessThan(2_500);
    const other = await connect(port);
    other.write("GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n");
    await other.waitFor(/\r\n\r\nok$/);
    expect(await other.closedByServer()).toBe("end");
    // Once it reads, it is answered again.
    greedy.resume();
    await greedy.until(() => scrapes > answered, 10_000, "more scrapes after the client read");
  });
});

describe("on a server process", () => {
  test("with 400 open files, 420 connections to the metrics port: 503s, while message clients and /healthz are served", async () => {
    // Before the cap, the crowd took every descriptor (the clients' limit keeps 256 in reserve,
    // the endpoint ate them): the server spun at full CPU and answered nobody, not even "full".
    const lowLimit = ["sh", "-c", 'ulimit -n 400 && exec "$0" "$@"', ...SOURCE_SERVER];
    await using server = await startServerProcess(["--metrics", "127.0.0.1:0"], lowLimit);
    const metricsPort = Number(new URL(await metricsUrl(server)).port);
    const crowd = await Promise.all(Array.from({ length: 420 }, () => connect(metricsPort)));
    const turnedAway = crowd.slice(DEFAULT_MAX_HTTP_CONNECTIONS);
    expect(await Promise.all(turnedAway.map((client) => client.closedByServer()))).toEqual(turnedAway.map(() => "end"));
    expect(turnedAway.every((client) => client.replies.text.startsWith("HTTP/1.1 503 Service Unavailable"))).toBe(true);
    const messages = await connect(server.port);
    messages.write("still served\n");
    await messages.waitFor(ackLine("still served"));
    // A place on the endpoint for the balancer's check, once one of the crowd leaves.
    crowd[0]!.end();
    await crowd[0]!.closedByServer();
    await Bun.sleep(100);
    const check = await connect(metricsPort);
    check.write("GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n");
    await check.waitFor(/\r\n\r\nok$/);
  });

  test("--metrics-max-connections 2: the third connection gets the 503", async () => {
    await using server = await startServerProcess(["--metrics", "127.0.0.1:0", "--metrics-max-connections", "2"]);
    const metricsPort = Number(new URL(await metricsUrl(server)).port);
    const held = [await connect(metricsPort), await connect(metricsPort)];
    const third = await connect(metricsPort);
    expect(await third.closedByServer()).toBe("end");
    expect(third.replies.text).toStartWith("HTTP/1.1 503 Service Unavailable\r\n");
    expect(held.every((client) => !client.isEnded)).toBe(true);
  });

  test.each(["0", "-1", "many"])("--metrics-max-connections %p is a usage error", async (value) => {
    const result = await runProgram(SOURCE_SERVER, ["--metrics", "127.0.0.1:0", "--metrics-max-connections", value]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("server: --metrics-max-connections must be");
  });
});
