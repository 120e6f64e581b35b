// The server as a real process (bun server.ts): what the operator sees on stdout and stderr, its
// flags, exit codes and signals. Clients are raw sockets, so every byte on the wire is the test's.
import { afterEach, describe, expect, test } from "bun:test";
import { runProgram, type ServerProcess, SOURCE_SERVER, startServerProcess } from "./helpers/processes.ts";
import { listenProblem, RawClient } from "./helpers/sockets.ts";
import { ackLine, SHUTDOWN_NOTICE_LINE } from "./helpers/spec.ts";

const clients: RawClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.terminate();
});

async function connect(server: ServerProcess): Promise<RawClient> {
  const client = await RawClient.connect(server.port, server.host);
  clients.push(client);
  return client;
}

const peerOf = (client: RawClient, host = "127.0.0.1") =>
  host.includes(":") ? `[${host}]:${client.localPort}` : `${host}:${client.localPort}`;

describe("output", () => {
  test("messages go to stdout as [peer] text, escaped; the lifecycle goes to stderr, line for line", async () => {
    await using server = await startServerProcess();
    const client = await connect(server);
    const messages = ["Hello", "tab\there", "esc\x1b[31mred", "back\\slash", "bell\x07 and bidi \u202e", "ünï 😀"];
    client.write(messages.map((m) => `${m}\n`).join(""));
    await client.waitFor(messages.map(ackLine).join(""));
    const peer = peerOf(client);
    await server.stderr.waitFor(`[ACTIVE CONNECTIONS] 1\n`);
    client.end();
    await server.stderr.waitFor(`[DISCONNECTED] ${peer} disconnected\n`);
    expect(await server.stop("SIGINT")).toBe(0);

    expect(server.stdout.text).toBe(
      [
        `[${peer}] Hello`,
        `[${peer}] tab\\there`,
        `[${peer}] esc\\x1b[31mred`,
        `[${peer}] back\\\\slash`,
        `[${peer}] bell\\x07 and bidi \\u202e`,
        `[${peer}] ünï 😀`,
        "",
      ].join("\n"),
    );
    // Nothing a client sends reaches the operator's terminal raw.
    expect(server.stdout.text).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f\u202e]/);
    expect(server.stderr.lines).toEqual([
      `[STARTING] Server is listening on 127.0.0.1:${server.port}`,
      `[NEW CONNECTION] ${peer} connected.`,
      `[ACTIVE CONNECTIONS] 1`,
      `[DISCONNECTED] ${peer} disconnected`,
      `[SHUTTING DOWN] Server is shutting down...`,
      `[CLOSED] Server socket closed`,
    ]);
  });

  test("a read of many messages is logged line for line as one message at a time would be, in order", async () => {
    // Reads of plain lines are logged from their bytes; a read with anything escaping changes goes
    // the string way. The reads below take turns, and each must read as the other would.
    await using server = await startServerProcess();
    const client = await connect(server);
    const reads = [
      ["plain", "", "with CRLF\r", "\r", "  spaces, [brackets] and ~!@#$%^&*()_+-={}|:\"<>?,./;'  ", "x".repeat(3000)],
      ["plain again", "back\\slash"],
      ["tab\there", "ünï"],
      Array.from({ length: 500 }, (_, i) => `message ${i}`),
      // One byte in an otherwise plain read sends the whole read the string way.
      ["plain", "del\x7f", "plain"],
      ["plain", "lone\rcr", "plain"],
    ];
    const expected: string[] = [];
    const peer = peerOf(client);
    for (const messages of reads) {
      client.write(messages.map((m) => `${m}\n`).join(""));
      const texts = messages.map((m) => m.replace(/\r$/, ""));
      await client.waitFor([...expected, ...texts].map(ackLine).join(""));
      expected.push(...texts);
    }
    client.end();
    await server.stderr.waitFor(`[DISCONNECTED] ${peer} disconnected\n`);
    expect(await server.stop("SIGINT")).toBe(0);
    const escaped = (text: string) =>
      text.replace("\\", "\\\\").replace("\t", "\\t").replace("\x7f", "\\x7f").replace("\r", "\\r");
    expect(server.stdout.lines).toEqual(expected.map((text) => `[${peer}] ${escaped(text)}`));
  });

  test("--port 0: the STARTING line shows the port really listened on", async () => {
    await using server = await startServerProcess(["--port", "0"]);
    expect(server.port).toBeGreaterThan(0);
    // The port in the line is the one that answers.
    const client = await connect(server);
    client.write("ping\n");
    await client.waitFor(ackLine("ping"));
  });

  test("active connections are counted as clients come and go", async () => {
    await using server = await startServerProcess();
    const first = await connect(server);
    await server.stderr.waitFor("[ACTIVE CONNECTIONS] 1\n");
    const second = await connect(server);
    await server.stderr.waitFor("[ACTIVE CONNECTIONS] 2\n");
    first.end();
    await server.stderr.waitFor(`[DISCONNECTED] ${peerOf(first)} disconnected\n`);
    second.terminate();
    await server.stderr.waitFor(`[DISCONNECTED] ${peerOf(second)} disconnected\n`);
    expect(await server.stop()).toBe(0);
    expect(server.stderr.lines.slice(1, -2)).toEqual([
      `[NEW CONNECTION] ${peerOf(first)} connected.`,
      `[ACTIVE CONNECTIONS] 1`,
      `[NEW CONNECTION] ${peerOf(second)} connected.`,
      `[ACTIVE CONNECTIONS] 2`,
      `[DISCONNECTED] ${peerOf(first)} disconnected`,
      `[${peerOf(second)}] Connection reset by client`,
      `[DISCONNECTED] ${peerOf(second)} disconnected`,
    ]);
  });

  test("--quiet: no message lines, the lifecycle still logged, acks still sent", async () => {
    await using server = await startServerProcess(["--quiet"]);
    const client = await connect(server);
    client.write("secret\n");
    await client.waitFor(ackLine("secret"));
    client.end();
    await server.stderr.waitFor("[DISCONNECTED]");
    expect(await server.stop()).toBe(0);
    expect(server.stdout.text).toBe("");
    expect(server.stderr.text).toContain(`[NEW CONNECTION] ${peerOf(client)} connected.\n`);
    expect(server.stderr.text).not.toContain("secret");
  });

  test("--json: every line on both streams is one JSON object; messages carry time, event, peer, message", async () => {
    await using server = await startServerProcess(["--json"]);
    const client = await connect(server);
    client.write("first\nwith \x1b escape\n");
    await client.waitFor(ackLine("first") + ackLine("with \x1b escape"));
    client.end();
    await server.stderr.waitFor('"event":"disconnected"');
    expect(await server.stop()).toBe(0);

    const peer = peerOf(client);
    const parse = (line: string) => JSON.parse(line) as Record<string, unknown>;
    const messages = server.stdout.lines.map(parse);
    expect(messages.map(({ event, peer, message }) => ({ event, peer, message }))).toEqual([
      { event: "message", peer, message: "first" },
      { event: "message", peer, message: "with \x1b escape" },
    ]);
    // JSON escapes control characters itself: the raw byte never reaches stdout.
    expect(server.stdout.text).not.toContain("\x1b");
    const lifecycle = server.stderr.lines.map(parse);
    expect(lifecycle.map((record) => record.event)).toEqual([
      "starting",
      "connected",
      "active",
      "disconnected",
      "shutting-down",
      "closed",
    ]);
    expect(lifecycle[0]).toMatchObject({ host: "127.0.0.1", port: server.port });
    expect(lifecycle[1]).toMatchObject({ peer, active: 1 });
    for (const record of [...messages, ...lifecycle]) {
      expect(Number.isNaN(Date.parse(String(record.time)))).toBe(false);
    }
  });

  const noIPv6 = listenProblem("::1", 0);
  if (noIPv6) console.warn(`skipping the IPv6 test: ${noIPv6}`);
  test.skipIf(noIPv6 !== undefined)("IPv6: the listener and its peers are shown as [::1]:port", async () => {
    await using server = await startServerProcess(["--host", "::1"]);
    expect(server.stderr.lines[0]).toBe(`[STARTING] Server is listening on [::1]:${server.port}`);
    const client = await connect(server);
    client.write("over v6\n");
    await client.waitFor(ackLine("over v6"));
    const peer = peerOf(client, "::1");
    await server.stdout.waitFor(`[${peer}] over v6\n`);
    expect(server.stderr.text).toContain(`[NEW CONNECTION] ${peer} connected.\n`);
    expect(await server.stop()).toBe(0);
  });
});

describe("errors and exit codes", () => {
  test("address in use: one plain line, exit 1, no stack trace", async () => {
    await using server = await startServerProcess();
    const result = await runProgram(SOURCE_SERVER, ["--port", String(server.port)]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe(`[ERROR] Address 127.0.0.1:${server.port} is already in use\n`);
    expect(result.stdout).toBe("");
  });

  test.each([[["--host", "nosuch.invalid"]], [["--listen", "nosuch.invalid:0"]]])(
    "a host name that does not resolve, %p: said so, exit 1 (Bun gives that error no code)",
    async (args) => {
      const result = await runProgram(SOURCE_SERVER, [...args, "--port", "0"]);
      expect(result).toEqual({ exitCode: 1, stdout: "", stderr: "[ERROR] Cannot resolve host nosuch.invalid\n" });
    },
  );

  test("bad flags: exit 2 with a one-line reason and a hint", async () => {
    const cases = [
      ["--port", "abc"],
      ["--port", "70000"],
      ["--framing", "xml"],
      ["--drain-timeout", "soon"],
      ["--max-connections", "0"],
      ["--no-such-flag"],
    ];
    const results = await Promise.all(cases.map((args) => runProgram(SOURCE_SERVER, args)));
    results.forEach((result, i) => {
      expect({ args: cases[i], exitCode: result.exitCode }).toEqual({ args: cases[i], exitCode: 2 });
      expect(result.stderr).toMatch(/^server: .+\nRun with --help for usage\.\n$/);
      expect(result.stdout).toBe("");
    });
  });
});

describe("shutdown", () => {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    test(`${signal} with clients connected: each gets its acks, then the notice; exit 0`, async () => {
      await using server = await startServerProcess();
      const connected = await Promise.all([connect(server), connect(server), connect(server)]);
      for (const [c, client] of connected.entries()) client.write(`one from ${c}\ntwo from ${c}\n`);
      // Every message is received (logged) before the signal.
      await server.stdout.waitForLines(6);
      expect(await server.stop(signal)).toBe(0);
      for (const [c, client] of connected.entries()) {
        expect(await client.closedByServer()).toBe("end");
        expect(client.replies.text).toBe(ackLine(`one from ${c}`) + ackLine(`two from ${c}`) + SHUTDOWN_NOTICE_LINE);
      }
      const lines = server.stderr.lines;
      const shuttingDown = lines.indexOf("[SHUTTING DOWN] Server is shutting down...");
      expect(shuttingDown).toBeGreaterThan(0);
      expect(lines.slice(shuttingDown + 1).sort()).toEqual(
        [
          ...connected.map((client) => `[DISCONNECTED] ${peerOf(client)} disconnected`),
          "[CLOSED] Server socket closed",
        ].sort(),
      );
      expect(lines.at(-1)).toBe("[CLOSED] Server socket closed");
    });
  }

  test("a second SIGINT exits at once (130) instead of waiting for a client that holds on", async () => {
    // Without the second SIGINT the server would wait for this client (it neither reads nor
    // hangs up) and then exit 0.
    await using server = await startServerProcess(["--drain-timeout", "30"]);
    const client = await connect(server);
    client.pause();
    client.write("hold on\n");
    await server.stdout.waitFor("hold on\n");
    server.proc.kill("SIGINT");
    await server.stderr.waitFor("[SHUTTING DOWN]");
    expect(await server.stop("SIGINT")).toBe(130);
  });

  test("--drain-timeout ends the shutdown for a client that neither reads nor hangs up", async () => {
    // More acks than the kernel buffers hold, so the goodbye cannot complete; the output limit is
    // raised so that the server reads every message first.
    await using server = await startServerProcess(["--drain-timeout", "0.3", "--max-output-bytes", "64m"]);
    const client = await connect(server);
    client.pause();
    const count = 6000;
    client.write(`${"z".repeat(1000)}\n`.repeat(count));
    await server.stdout.waitForLines(count);
    expect(await server.stop("SIGINT")).toBe(0);
    expect(server.stderr.lines.slice(-3)).toEqual([
      "[SHUTTING DOWN] Server is shutting down...",
      `[DISCONNECTED] ${peerOf(client)} disconnected`,
      "[CLOSED] Server socket closed",
    ]);
  });
});
