// Who may connect (spec, "Network"): --allow, --deny and --max-connections-per-address against a
// real server process, with clients from real source addresses of the loopback range (127.0.0.2,
// 127.0.0.3, ... are this machine's own), through our raw client and through nc -s. Then the
// warning at start for a listener anyone can reach, the usage errors, and the counters by reason.
import { describe, expect, test } from "bun:test";
import { startServer } from "../src/server/server.ts";
import { runProgram, SOURCE_SERVER, stopAfterEachTest } from "./helpers/processes.ts";
import { EventRecorder } from "./helpers/server-events.ts";
import { RawClient } from "./helpers/sockets.ts";
import { ackLine } from "./helpers/spec.ts";

const DENIED = "ERROR access denied\n";
const TOO_MANY = "ERROR too many connections from your address\n";

const { clients, serve, connect: connectFrom } = stopAfterEachTest();

/** Served: a message gets its ack. */
async function expectServed(client: RawClient, message = "hello"): Promise<void> {
  client.write(`${message}\n`);
  await client.waitFor(ackLine(message));
}

/** Turned away: the notice, nothing else, and the server hangs up. */
async function expectRefused(client: RawClient, notice: string): Promise<void> {
  client.write("hello\n");
  expect(await client.closedByServer()).toBe("end");
  expect(client.replies.text).toBe(notice);
}

describe("--allow and --deny", () => {
  test("only allowed addresses are served; --deny wins over --allow; each refusal is logged", async () => {
    const server = await serve(["--allow", "127.0.0.2", "--allow", "127.0.0.4/31", "--deny", "127.0.0.5"]);
    await expectServed(await connectFrom(server, "127.0.0.2"));
    await expectServed(await connectFrom(server, "127.0.0.4"));
    const outside = await connectFrom(server, "127.0.0.3");
    await expectRefused(outside, DENIED);
    // 127.0.0.5 is inside the allowed 127.0.0.4/31, and denied by name.
    const denied = await connectFrom(server, "127.0.0.5");
    await expectRefused(denied, DENIED);

    await server.stderr.waitFor(`[DENIED] 127.0.0.3:${outside.localPort} is not in the allow list\n`);
    await server.stderr.waitFor(`[DENIED] 127.0.0.5:${denied.localPort} matches deny rule 127.0.0.5/32\n`);
    // Refused clients are never announced, and nothing they sent is logged.
    expect(server.stderr.text).not.toContain("[NEW CONNECTION] 127.0.0.3");
    expect(server.stderr.text).not.toContain("[NEW CONNECTION] 127.0.0.5");
    expect(server.stdout.text).not.toMatch(/127\.0\.0\.[35]/);
    expect(server.stdout.lines).toHaveLength(2);
  });

  test("--deny alone refuses its block and serves everyone else; nc -s sees the notice", async () => {
    const server = await serve(["--deny", "127.0.0.3/32"]);
    await expectServed(await connectFrom(server, "127.0.0.1"));
    await expectServed(await connectFrom(server, "127.0.0.2"));
    const nc = (from: string) =>
      runProgram(["nc"], ["-N", "-s", from, "127.0.0.1", String(server.port)], { stdin: "via nc\n" });
    const denied = await nc("127.0.0.3");
    expect(denied).toMatchObject({ exitCode: 0, stdout: DENIED });
    const served = await nc("127.0.0.4");
    expect(served).toMatchObject({ exitCode: 0, stdout: ackLine("via nc") });
    await server.stderr.waitFor(/\[DENIED\] 127\.0\.0\.3:\d+ matches deny rule 127\.0\.0\.3\/32\n/);
  });

  test("on a dual-stack :: listener, IPv4 clients (::ffff:a.b.c.d) are matched as IPv4, IPv6 ones as IPv6", async () => {
    const server = await serve(["--host", "::", "--allow", "127.0.0.0/8", "--allow", "::1", "--deny", "127.0.0.3"]);
    const allowed = await connectFrom(server, "127.0.0.2");
    await expectServed(allowed);
    await server.stderr.waitFor(`[NEW CONNECTION] [::ffff:127.0.0.2]:${allowed.localPort} connected.\n`);
    const denied = await connectFrom(server, "127.0.0.3");
    await expectRefused(denied, DENIED);
    await server.stderr.waitFor(`[DENIED] [::ffff:127.0.0.3]:${denied.localPort} matches deny rule 127.0.0.3/32\n`);
    await expectServed(await connectFrom(server, "::1", "::1"));
  });

  test("--json: a refusal is one refused event with its reason", async () => {
    const server = await serve(["--json", "--deny", "127.0.0.3"]);
    const client = await connectFrom(server, "127.0.0.3");
    await expectRefused(client, DENIED);
    const [line] = await server.stderr.waitFor(/^\{.*"event":"refused".*\}$/m);
    expect(JSON.parse(line)).toMatchObject({
      event: "refused",
      peer: `127.0.0.3:${client.localPort}`,
      reason: "denied",
      detail: "matches deny rule 127.0.0.3/32",
    });
  });

  test("an IPv6 client is not inside an IPv4 allow list", async () => {
    const server = await serve(["--host", "::1", "--allow", "127.0.0.0/8"]);
    const client = await connectFrom(server, "::1", "::1");
    await expectRefused(client, DENIED);
    await server.stderr.waitFor(`[DENIED] [::1]:${client.localPort} is not in the allow list\n`);
  });
});

describe("--max-connections-per-address", () => {
  test("caps one address while another still connects, and frees the place when a client leaves", async () => {
    const server = await serve(["--max-connections-per-address", "2"]);
    const first = await connectFrom(server, "127.0.0.2");
    const second = await connectFrom(server, "127.0.0.2");
    await expectServed(first);
    await expectServed(second);
    const third = await connectFrom(server, "127.0.0.2");
    await expectRefused(third, TOO_MANY);
    await server.stderr.waitFor(
      `[LIMIT] 127.0.0.2:${third.localPort} has too many connections from 127.0.0.2 (limit 2 per address)\n`,
    );
    // Another address is not affected.
    const other = await connectFrom(server, "127.0.0.3");
    const otherToo = await connectFrom(server, "127.0.0.3");
    await expectServed(other);
    await expectServed(otherToo);
    // A place freed is a place: once the first hangs up, 127.0.0.2 may connect again.
    first.end();
    await server.stderr.waitFor(`[DISCONNECTED] 127.0.0.2:${first.localPort} disconnected\n`);
    await expectServed(await connectFrom(server, "127.0.0.2"));
    await expectServed(second, "still here");
  });

  test("IPv4-mapped and plain IPv4 are one address", async () => {
    const server = await serve(["--host", "::", "--max-connections-per-address", "1"]);
    await expectServed(await connectFrom(server, "127.0.0.2"));
    // The same address, reached over the IPv4-mapped form of the same listener.
    const again = await connectFrom(server, "127.0.0.2");
    await expectRefused(again, TOO_MANY);
    await server.stderr.waitFor("has too many connections from 127.0.0.2 (limit 1 per address)\n");
  });
});

describe("the warning at start", () => {
  const WARNING =
    /\[WARNING\] Listening on (\S+) without TLS or --allow: anyone who can reach this port can send messages\n/g;

  test.each([
    [["--host", "0.0.0.0"], "0.0.0.0"],
    [["--host", "::"], "[::]"],
  ])("%p without --allow: one warning", async (args, shown) => {
    const server = await serve(args);
    await server.stderr.waitFor(WARNING);
    const warnings = [...server.stderr.text.matchAll(WARNING)];
    expect(warnings.map((match) => match[1])).toEqual([`${shown}:${server.port}`]);
  });

  test.each([
    [["--host", "0.0.0.0", "--allow", "127.0.0.0/8"]],
    // Only --proxy-from sources (loopback by default) are served at all.
    [["--host", "0.0.0.0", "--proxy-protocol"]],
    [["--host", "127.0.0.1"]],
    [["--host", "::1"]],
    [["--host", "localhost"]],
  ])("%p: no warning", async (args) => {
    const server = await serve(args);
    // A warning would come right after the STARTING line, so before a client's NEW CONNECTION line.
    const client = await RawClient.connect(server.port, server.host === "0.0.0.0" ? "127.0.0.1" : server.host);
    clients.push(client);
    if (args.includes("--proxy-protocol")) client.write("PROXY UNKNOWN\r\n");
    await server.stderr.waitFor("[NEW CONNECTION]");
    expect(server.stderr.text).not.toContain("[WARNING]");
  });
});

test("--workers 2: each refusal is logged once (by the supervisor), and the warning once", async () => {
  const server = await serve(["--workers", "2", "--host", "0.0.0.0", "--deny", "127.0.0.3"]);
  const refused: RawClient[] = [];
  for (let i = 0; i < 6; i++) {
    await expectServed(await connectFrom(server, "127.0.0.2"));
    const client = await connectFrom(server, "127.0.0.3");
    await expectRefused(client, DENIED);
    refused.push(client);
  }
  for (const client of refused) {
    await server.stderr.waitFor(`[DENIED] 127.0.0.3:${client.localPort} matches deny rule 127.0.0.3/32\n`);
  }
  expect(server.stderr.text.match(/\[DENIED\]/g)).toHaveLength(6);
  expect(server.stderr.text.match(/\[WARNING\] Listening on 0\.0\.0\.0:/g)).toHaveLength(1);
});

describe("usage errors", () => {
  test.each([
    [["--allow", "10.0.0.300"], "server: --allow: '10.0.0.300' is not an IP address or CIDR block"],
    [["--deny", "10.1.2.3/8"], "server: --deny: '10.1.2.3/8' has bits set past its prefix: did you mean 10.0.0.0/8?"],
    [["--allow", "::/129"], "server: --allow: '::/129' has a bad prefix length: it must be 0 to 128"],
    [["--max-connections-per-address", "-1"], "server: --max-connections-per-address must be a whole number"],
    [["--max-connections-per-address", "two"], "server: --max-connections-per-address must be a whole number"],
  ])("%p exits 2 with one sentence", async (args, sentence) => {
    const result = await runProgram(SOURCE_SERVER, ["--port", "0", ...args]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toStartWith(sentence);
    expect(result.stderr.split("\n")).toHaveLength(3);
  });
});

test("refusals are counted by reason (ServerStats.rejected), and only admitted clients as accepted", async () => {
  const recorder = new EventRecorder();
  await using server = startServer({
    host: "127.0.0.1",
    port: 0,
    allow: ["127.0.0.0/30"],
    deny: ["127.0.0.3"],
    limits: { maxConnectionsPerAddress: 1 },
    closeTimeoutMs: 500,
    events: recorder.events,
  });
  const held = await RawClient.connect(server.port, "127.0.0.1", { localAddress: "127.0.0.2" });
  clients.push(held);
  held.write("one\n");
  await held.waitFor(ackLine("one"));
  for (const from of ["127.0.0.3", "127.0.0.4", "127.0.0.2"]) {
    const client = await RawClient.connect(server.port, "127.0.0.1", { localAddress: from });
    clients.push(client);
    await client.closedByServer();
  }
  expect(server.stats).toMatchObject({
    connectionsAccepted: 1,
    connectionsRejected: 3,
    rejected: { full: 0, "shutting-down": 0, denied: 2, "per-address": 1, proxy: 0 },
  });
  expect(recorder.of("refused").map(({ reason, detail }) => [reason, detail])).toEqual([
    ["denied", "matches deny rule 127.0.0.3/32"],
    ["denied", "is not in the allow list"],
    ["per-address", "has too many connections from 127.0.0.2 (limit 1 per address)"],
  ]);
});
