// --proxy-protocol (spec, "Scale-out") against a real server process: the client a PROXY header
// names is the peer in every log line and for every address rule; only --proxy-from sources may
// send one; a missing, malformed, slow or cut-short header is refused with its notice; v2 LOCAL
// and v1 UNKNOWN keep the proxy's own address; the bytes after the header are the first payload.
import { describe, expect, test } from "bun:test";
import { seededRandom } from "../harness/random.ts";
import { startServer } from "../src/server/server.ts";
import { family, metricsUrl, scrape } from "./helpers/metrics.ts";
import { runProgram, SOURCE_SERVER, stopAfterEachTest } from "./helpers/processes.ts";
import { PROXY_V2_LOCAL, proxyV1, proxyV2Tcp4 } from "./helpers/proxy.ts";
import { RawClient } from "./helpers/sockets.ts";
import { ackLine } from "./helpers/spec.ts";

const ACCESS_DENIED = "ERROR access denied\n";
const BAD_HEADER = "ERROR bad PROXY protocol header\n";

const started = stopAfterEachTest();
const { clients, connect } = started;
const serve = (args: string[] = []) => started.serve(["--proxy-protocol", ...args]);

/** The notice, nothing else, and a hang-up (not a reset, which could have destroyed the notice). */
async function expectRefused(client: RawClient, notice: string): Promise<void> {
  expect(await client.closedByServer()).not.toBe("reset");
  expect(client.replies.text).toBe(notice);
}

describe("a trusted proxy (loopback by default)", () => {
  test("v1 from nc: the client in the header is the peer on stdout and stderr", async () => {
    const server = await serve();
    const header = proxyV1("203.0.113.7", 40000, "127.0.0.1", server.port);
    const result = await runProgram(["nc"], ["-N", "127.0.0.1", String(server.port)], { stdin: `${header}hello\n` });
    expect(result).toMatchObject({ exitCode: 0, stdout: ackLine("hello") });
    await server.stderr.waitFor("[DISCONNECTED] 203.0.113.7:40000 disconnected\n");
    expect(server.stdout.text).toBe("[203.0.113.7:40000] hello\n");
    expect(server.stderr.lines.slice(1)).toEqual([
      "[NEW CONNECTION] 203.0.113.7:40000 connected.",
      "[ACTIVE CONNECTIONS] 1",
      "[DISCONNECTED] 203.0.113.7:40000 disconnected",
    ]);
  });

  test("a v2 header with TLVs, one byte per read, messages in the read that ends it: nothing lost or doubled", async () => {
    const server = await serve();
    const client = await connect(server);
    const noop = [0x04, 0x00, 0x02, 0x0a, 0x0a];
    const input = Buffer.concat([proxyV2Tcp4("198.51.100.4", 5555, noop), Buffer.from("one\ntwo\n")]);
    await client.writeInPieces(input.subarray(0, input.length - 6), 1);
    client.write(input.subarray(input.length - 6));
    await client.waitFor(ackLine("one") + ackLine("two"));
    await server.stdout.waitForLines(2);
    expect(server.stdout.text).toBe("[198.51.100.4:5555] one\n[198.51.100.4:5555] two\n");
    expect(client.replies.text).toBe(ackLine("one") + ackLine("two"));
  });

  test("a header and 20,000 lines in one write, then 20,000 more: every ack and log line, in order", async () => {
    // The reads after the header are large: the server frees each once handled, and what follows
    // the header in the first read is a view of it, passed on to the connection.
    const server = await serve();
    const client = await connect(server);
    const lines = (from: number) => Array.from({ length: 20_000 }, (_, i) => `line ${from + i}`);
    const [first, second] = [lines(0), lines(20_000)];
    client.write(`${proxyV1("192.0.2.9", 7000)}${first.map((line) => `${line}\n`).join("")}`);
    client.write(second.map((line) => `${line}\n`).join(""));
    const all = [...first, ...second];
    await client.waitFor(ackLine("line 39999"));
    expect(client.replies.text).toBe(all.map(ackLine).join(""));
    await server.stdout.waitForLines(all.length);
    expect(server.stdout.text).toBe(all.map((line) => `[192.0.2.9:7000] ${line}\n`).join(""));
  });

  test("on a dual-stack :: listener the proxy's IPv4-mapped address is trusted as the IPv4 one", async () => {
    const server = await serve(["--host", "::", "--proxy-from", "127.0.0.7"]);
    const proxy = await connect(server, "127.0.0.7");
    proxy.write(`${proxyV1("2001:db8::5", 6000)}hello\n`);
    await proxy.waitFor(ackLine("hello"));
    await server.stdout.waitFor("[[2001:db8::5]:6000] hello\n");
  });

  test("--workers 2: every worker reads the header", async () => {
    const server = await serve(["--workers", "2"]);
    for (let i = 1; i <= 6; i++) {
      const client = await connect(server);
      client.write(`${proxyV1(`192.0.2.${i}`, 1000 + i)}hello ${i}\n`);
      await client.waitFor(ackLine(`hello ${i}`));
      await server.stdout.waitFor(`[192.0.2.${i}:${1000 + i}] hello ${i}\n`);
    }
  });

  test.each([
    ["v2 LOCAL (a health check)", PROXY_V2_LOCAL],
    ["v1 UNKNOWN", Buffer.from("PROXY UNKNOWN\r\n")],
  ])("%s is served under the proxy's own address", async (_name, header) => {
    const server = await serve();
    const client = await connect(server, "127.0.0.6");
    client.write(Buffer.concat([header, Buffer.from("healthcheck\n")]));
    await client.waitFor(ackLine("healthcheck"));
    await server.stdout.waitFor(`[127.0.0.6:${client.localPort}] healthcheck\n`);
  });
});

describe("refused", () => {
  test("a forged header from an untrusted source: access denied, before anything is read", async () => {
    const server = await serve(["--proxy-from", "127.0.0.5/32"]);
    const forger = await connect(server, "127.0.0.1");
    forger.write(`${proxyV1("10.1.1.1", 1234)}hello\n`);
    await expectRefused(forger, ACCESS_DENIED);
    await server.stderr.waitFor(`[PROXY] 127.0.0.1:${forger.localPort} is not a trusted proxy\n`);
    // The trusted proxy is still served, under its client's address.
    const proxy = await connect(server, "127.0.0.5");
    proxy.write(`${proxyV1("10.2.2.2", 4321)}hello\n`);
    await proxy.waitFor(ackLine("hello"));
    await server.stdout.waitFor("[10.2.2.2:4321] hello\n");
    expect(server.stdout.text).not.toContain("10.1.1.1");
    expect(server.stderr.text).not.toContain("10.1.1.1");
  });

  test.each([
    ["our own protocol, no header", "hello\n", "not a PROXY protocol header"],
    ["a v1 header with a bare LF", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\nhello\n", "v1 header ends in a bare LF, not CRLF"],
    ["a v1 header too long", `PROXY UNKNOWN ${"f".repeat(100)}\r\n`, "v1 header is longer than 107 bytes"],
    // The reason quotes the byte: escaped, so no header can write to the operator's terminal.
    ["an escape sequence where the protocol goes", "PROXY \x1b[2J", "v1 header has an unknown protocol '\\x1b'"],
  ])("%s: bad PROXY protocol header", async (_name, input, reason) => {
    const server = await serve();
    const client = await connect(server);
    client.write(input);
    await expectRefused(client, BAD_HEADER);
    await server.stderr.waitFor(`[PROXY] 127.0.0.1:${client.localPort} sent a bad PROXY protocol header: ${reason}\n`);
  });

  test("SIGTERM while a client is still to send its header: it is told the server is shutting down, exit 0", async () => {
    const server = await serve();
    const waiting = await connect(server);
    waiting.write("PROXY TCP4 1.2");
    // The socket is accepted (and in its stage) before the signal.
    await Bun.sleep(100);
    server.proc.kill("SIGTERM");
    await expectRefused(waiting, "ERROR server shutting down\n");
    expect(await server.proc.exited).toBe(0);
    expect(server.stderr.text).not.toContain("bad PROXY protocol header");
  });

  test("a header that never completes is refused at --proxy-header-timeout; one cut short by FIN at once", async () => {
    const server = await serve(["--proxy-header-timeout", "0.3"]);
    const silent = await connect(server);
    const slow = await connect(server);
    slow.write("PROXY TCP4 1.2");
    const cut = await connect(server);
    cut.write("PROXY TCP4 1.2");
    cut.finishSending();
    await expectRefused(cut, BAD_HEADER);
    await server.stderr.waitFor(
      `[PROXY] 127.0.0.1:${cut.localPort} sent a bad PROXY protocol header: the connection ended before a complete header\n`,
    );
    await expectRefused(silent, BAD_HEADER);
    await expectRefused(slow, BAD_HEADER);
    await server.stderr.waitFor(
      `[PROXY] 127.0.0.1:${slow.localPort} sent a bad PROXY protocol header: no complete header within 0.3 s\n`,
    );
  });

  test("a socket waiting for its header holds a place under --max-connections", async () => {
    const server = await serve(["--max-connections", "1"]);
    const waiting = await connect(server);
    await Bun.sleep(50);
    const next = await connect(server);
    next.write(`${proxyV1("10.0.0.9", 9)}hello\n`);
    await expectRefused(next, "ERROR server is full\n");
    // Once the first is served and gone, the place is free again.
    waiting.write(`${proxyV1("10.0.0.8", 8)}first\n`);
    await waiting.waitFor(ackLine("first"));
    waiting.end();
    await server.stderr.waitFor("[DISCONNECTED] 10.0.0.8:8 disconnected\n");
    const after = await connect(server);
    after.write(`${proxyV1("10.0.0.7", 7)}after\n`);
    await after.waitFor(ackLine("after"));
  });

  test("an untrusted source is denied even when the server is full: it learns nothing of the limit", async () => {
    const server = await serve(["--max-connections", "1", "--proxy-from", "127.0.0.1"]);
    const waiting = await connect(server);
    await Bun.sleep(50);
    const forger = await connect(server, "127.0.0.2");
    forger.write(`${proxyV1("10.1.1.1", 1234)}hello\n`);
    await expectRefused(forger, ACCESS_DENIED);
    await server.stderr.waitFor(`[PROXY] 127.0.0.2:${forger.localPort} is not a trusted proxy\n`);
    expect(server.stderr.text).not.toContain("server is full");
    // The trusted proxy's place was kept for it.
    waiting.write(`${proxyV1("10.0.0.8", 8)}first\n`);
    await waiting.waitFor(ackLine("first"));
  });
});

describe("the header's address is the one the rules see", () => {
  test("--allow and --deny judge the client, not the proxy", async () => {
    const server = await serve(["--allow", "198.51.100.0/24", "--deny", "198.51.100.66"]);
    const allowed = await connect(server);
    allowed.write(`${proxyV1("198.51.100.1", 1000)}hello\n`);
    await allowed.waitFor(ackLine("hello"));
    const denied = await connect(server);
    denied.write(`${proxyV1("198.51.100.66", 1001)}hello\n`);
    await expectRefused(denied, ACCESS_DENIED);
    const outside = await connect(server);
    outside.write(`${proxyV1("203.0.113.1", 1002)}hello\n`);
    await expectRefused(outside, ACCESS_DENIED);
    await server.stderr.waitFor("[DENIED] 198.51.100.66:1001 matches deny rule 198.51.100.66/32\n");
    await server.stderr.waitFor("[DENIED] 203.0.113.1:1002 is not in the allow list\n");
  });

  test("--max-connections-per-address counts the client's address, however many go through one proxy", async () => {
    const server = await serve(["--max-connections-per-address", "1"]);
    const first = await connect(server);
    first.write(`${proxyV1("192.0.2.1", 1)}a\n`);
    await first.waitFor(ackLine("a"));
    const second = await connect(server);
    second.write(`${proxyV1("192.0.2.1", 2)}b\n`);
    await expectRefused(second, "ERROR too many connections from your address\n");
    const other = await connect(server);
    other.write(Buffer.concat([proxyV2Tcp4("192.0.2.2", 3), Buffer.from("c\n")]));
    await other.waitFor(ackLine("c"));
    await server.stderr.waitFor("[LIMIT] 192.0.2.1:2 has too many connections from 192.0.2.1 (limit 1 per address)\n");
  });
});

test("proxy refusals are counted under the reason 'proxy'", async () => {
  await using server = startServer({
    host: "127.0.0.1",
    port: 0,
    proxyProtocol: true,
    proxyFrom: ["127.0.0.1"],
    closeTimeoutMs: 500,
  });
  const untrusted = await RawClient.connect(server.port, "127.0.0.1", { localAddress: "127.0.0.2" });
  const malformed = await RawClient.connect(server.port, "127.0.0.1");
  clients.push(untrusted, malformed);
  malformed.write("GET / HTTP/1.1\r\n");
  await Promise.all([untrusted.closedByServer(), malformed.closedByServer()]);
  expect(server.stats).toMatchObject({ connectionsAccepted: 0, connectionsRejected: 2 });
  expect(server.stats.rejected.proxy).toBe(2);
});

test("/metrics counts each kind of refusal under its reason, and the header's clients as accepted", async () => {
  const server = await serve([
    ...["--metrics", "127.0.0.1:0", "--proxy-from", "127.0.0.1"],
    ...["--deny", "10.0.0.66", "--max-connections-per-address", "1"],
  ]);
  const url = await metricsUrl(server);
  const served = await connect(server);
  served.write(`${proxyV1("10.0.0.1", 1)}hello\n`);
  await served.waitFor(ackLine("hello"));
  const refusals: Array<[string, string]> = [
    [`${proxyV1("10.0.0.66", 2)}hello\n`, ACCESS_DENIED],
    [`${proxyV1("10.0.0.1", 3)}hello\n`, "ERROR too many connections from your address\n"],
    ["hello\n", BAD_HEADER],
  ];
  for (const [input, notice] of refusals) {
    const client = await connect(server);
    client.write(input);
    await expectRefused(client, notice);
  }
  const untrusted = await connect(server, "127.0.0.2");
  untrusted.write(`${proxyV1("10.0.0.2", 4)}hello\n`);
  await expectRefused(untrusted, ACCESS_DENIED);
  const { samples } = await scrape(url);
  expect(family(samples, "socketlab_connections_")).toMatchObject({
    socketlab_connections_active: 1,
    socketlab_connections_accepted_total: 1,
    'socketlab_connections_rejected_total{reason="denied"}': 1,
    'socketlab_connections_rejected_total{reason="per-address"}': 1,
    // A bad header and an untrusted source.
    'socketlab_connections_rejected_total{reason="proxy"}': 2,
  });
});

test("seeded random and broken headers from a trusted source: each served or refused with the notice, the server unharmed", async () => {
  const server = await serve(["--proxy-header-timeout", "1"]);
  const random = seededRandom(0x7072);
  const valid = [Buffer.from(proxyV1("198.51.100.9", 99)), proxyV2Tcp4("198.51.100.9", 99), PROXY_V2_LOCAL];
  const inputs = Array.from({ length: 60 }, () => {
    const bytes = Buffer.concat([random.pick(valid), Buffer.from("fuzz\n")]);
    for (let n = random.int(3); n >= 0; n--) bytes[random.int(bytes.length)] = random.int(256);
    return random.next() < 0.2 ? Buffer.from(Array.from({ length: random.int(64) }, () => random.int(256))) : bytes;
  });
  const verdicts = await Promise.all(
    inputs.map(async (input) => {
      const client = await connect(server);
      client.write(input);
      client.finishSending();
      await client.closedByServer();
      const replies = client.replies.text;
      // A header that survived its mutation is served (its payload may be mutated too); anything
      // else gets the notice alone.
      if (replies === BAD_HEADER) return "refused";
      return /^(Message '[^\n]*' received successfully\n)+$/.test(replies) ? "served" : replies;
    }),
  );
  expect(verdicts.filter((verdict) => verdict !== "served" && verdict !== "refused")).toEqual([]);
  expect(verdicts).toContain("refused");
  expect(verdicts).toContain("served");
  // Still up, and a good header still works.
  const after = await connect(server);
  after.write(`${proxyV1("198.51.100.10", 10)}after\n`);
  await after.waitFor(ackLine("after"));
});

describe("usage errors", () => {
  test.each([
    [["--proxy-from", "127.0.0.1"], "server: --proxy-from needs --proxy-protocol"],
    [
      ["--proxy-protocol", "--proxy-from", "127.0.0.1/33"],
      "server: --proxy-from: '127.0.0.1/33' has a bad prefix length",
    ],
    [["--proxy-protocol", "--proxy-header-timeout", "0"], "server: --proxy-header-timeout must be more than 0 seconds"],
  ])("%p exits 2", async (args, sentence) => {
    const result = await runProgram(SOURCE_SERVER, ["--port", "0", ...args]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toStartWith(sentence);
  });
});
