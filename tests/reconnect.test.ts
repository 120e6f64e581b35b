// client --reconnect (spec, "Scale-out", client): a pipeline rides out a server that restarts
// (SIGTERM, or killed outright) on the same port, resending what was not acknowledged: exit 0,
// every ack printed once, in input order. With no server coming back it fails with the usual
// code once --reconnect-for is spent; without --reconnect a lost connection is still exit 5.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Socket } from "bun";
import { makeCertificates } from "./helpers/certs.ts";
import {
  CHILD_ENV,
  DEADLINE_MS,
  runClient,
  type ServerProcess,
  SOURCE_CLIENT,
  startClientProcess,
  startServerProcess,
  TextCollector,
  withDeadline,
} from "./helpers/processes.ts";
import { acknowledge, freePort, scriptedServer, startFakeServer, unacceptingListener } from "./helpers/sockets.ts";
import { ack } from "./helpers/spec.ts";
import { TerminalSession } from "./helpers/terminal.ts";

const REFUSED = 3;
const TIMEOUT = 4;
const LOST = 5;
const TOTAL = 20_000;

const lines = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => `message ${from + i}\n`).join("");
const acks = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => `${ack(`message ${from + i}`)}\n`).join("");
const count = (text: string, part: string) => text.split(part).length - 1;

/**
 * Streams TOTAL lines through `client --reconnect` while the server on a fixed port goes away
 * (`stopServer`) and a new one starts there. Input keeps coming throughout: some before, some
 * while the first server goes, some while there is none, the rest to the new one.
 */
async function streamAcrossRestart(stopServer: (server: ServerProcess) => Promise<void>) {
  const port = freePort();
  const servers = [await startServerProcess(["--port", String(port), "--quiet"])];
  const client = startClientProcess(["--port", String(port), "--reconnect"]);
  try {
    client.send(lines(0, 5000));
    await client.stdout.waitForLines(1000);
    // More in flight as the server goes: some of it will be unacknowledged when it does.
    client.send(lines(5000, 10_000));
    await stopServer(servers[0]!);
    client.send(lines(10_000, 15_000));
    servers.push(await startServerProcess(["--port", String(port), "--quiet"]));
    client.send(lines(15_000, TOTAL));
    client.endInput();
    const exitCode = await client.exited(DEADLINE_MS * 2);
    return { exitCode, stdout: client.stdout.text, stderr: client.stderr.text };
  } finally {
    client.proc.kill("SIGKILL");
    for (const server of servers) server.proc.kill("SIGKILL");
  }
}

describe("client --reconnect across a server restart on the same port", () => {
  test.each([
    [
      "SIGTERM (acks what it got, then 'ERROR server shutting down')",
      async (server: ServerProcess) => expect(await server.stop("SIGTERM")).toBe(0),
    ],
    [
      "kill -9 (a reset; acks in flight are lost)",
      async (server: ServerProcess) => {
        server.proc.kill("SIGKILL");
        await server.proc.exited;
      },
    ],
  ])("%s: exit 0, every ack once, in input order", async (_, stopServer) => {
    const result = await streamAcrossRestart(stopServer);
    expect(result.exitCode).toBe(0);
    // Whole-text comparison: in order, none missing, none twice.
    expect(result.stdout === acks(0, TOTAL)).toBe(true);
    expect(result.stderr).toMatch(/\[RECONNECTING\] .+; retrying in \d+ ms \(\d+ unacknowledged\)\n/);
    expect(count(result.stderr, "[CONNECTED] Connected to server\n")).toBe(2);
    expect(result.stderr).not.toContain("[ERROR]");
  });

  test("stdout and stderr into one slow pipe (2>&1): the status lines of a restart land between whole acks", async () => {
    // stdout's writer finishes a write that a full pipe took only part of later, while stderr
    // wrote at once: `Message 'message 287985' received successf[RECONNECTING] ...`.
    const port = freePort();
    const dir = mkdtempSync(join(tmpdir(), "socket-lab-one-pipe-"));
    const input = join(dir, "input.txt");
    const LINES = 300_000;
    writeFileSync(input, lines(0, LINES));
    // A reader that takes 4 KiB every half millisecond: the pipe is full most of the time.
    const slowReader =
      "import sys, time\nwhile d := sys.stdin.buffer.read1(4096):\n    sys.stdout.buffer.write(d); time.sleep(0.0005)";
    const command = [...SOURCE_CLIENT, "--port", String(port), "--reconnect"].map((arg) => `'${arg}'`).join(" ");
    const servers = [await startServerProcess(["--port", String(port), "--quiet"])];
    const pipeline = Bun.spawn(["sh", "-c", `${command} < '${input}' 2>&1 | python3 -c '${slowReader}'`], {
      stdout: "pipe",
      stderr: "inherit",
      env: CHILD_ENV,
    });
    const output = new TextCollector(pipeline.stdout);
    try {
      await output.waitForLines(5000);
      servers[0]!.proc.kill("SIGKILL");
      await servers[0]!.proc.exited;
      servers.push(await startServerProcess(["--port", String(port), "--quiet"]));
      expect(await withDeadline(pipeline.exited, DEADLINE_MS * 3, "the pipeline did not end")).toBe(0);
      await output.done;
      const torn = output.text
        .split("\n")
        .slice(0, -1)
        .filter((line) => !/^Message 'message \d+' received successfully$|^\[[A-Z]+\] [^[]+$/.test(line));
      expect(torn).toEqual([]);
      // (Booleans: a failure would print all 12 MB.)
      expect(output.text.includes("\n[RECONNECTING] ")).toBe(true);
      expect(count(output.text, " received successfully\n")).toBe(LINES);
    } finally {
      pipeline.kill("SIGKILL");
      for (const server of servers) server.proc.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("without --reconnect the same loss is exit 5, with how many went unacknowledged", async () => {
    const port = freePort();
    const server = await startServerProcess(["--port", String(port), "--quiet"]);
    const client = startClientProcess(["--port", String(port)]);
    try {
      client.send(lines(0, 5000));
      await client.stdout.waitForLines(1000);
      client.send(lines(5000, 10_000));
      expect(await server.stop("SIGTERM")).toBe(0);
      expect(await client.exited()).toBe(LOST);
      expect(client.stderr.text).toMatch(/\[ERROR\] server shutting down \(\d+ of \d+ messages unacknowledged\)\n/);
      expect(client.stderr.text).not.toContain("[RECONNECTING]");
    } finally {
      client.proc.kill("SIGKILL");
      server.proc.kill("SIGKILL");
    }
  });
});

describe("when no server comes back", () => {
  test("exit 3 with the usual line once --reconnect-for is spent, the unacknowledged counted", async () => {
    const port = freePort();
    const server = await startServerProcess(["--port", String(port), "--quiet"]);
    const client = startClientProcess(["--port", String(port), "--reconnect", "--reconnect-for", "2"]);
    try {
      client.send(lines(0, 100));
      await client.stdout.waitForLines(100);
      server.proc.kill("SIGKILL");
      await server.proc.exited;
      const lostAt = performance.now();
      client.send(lines(100, 200));
      const exitCode = await client.exited();
      const tried = performance.now() - lostAt;
      expect(exitCode).toBe(REFUSED);
      // All 100 more were read, or the part of them read before input waited for a connection.
      const [, owed, sent] =
        /\[REFUSED\] Connection refused\. Make sure the server is running\. \((\d+) of (\d+) messages unacknowledged\)\n/.exec(
          client.stderr.text,
        ) ?? [];
      expect(Number(sent) - Number(owed)).toBe(100);
      expect(Number(owed)).toBeGreaterThan(0);
      expect(client.stdout.text).toBe(acks(0, 100));
      // It kept trying, with waits that grow and never pass 2 s, for about the time it was given.
      const waits = [...client.stderr.text.matchAll(/retrying in (\d+) ms/g)].map((match) => Number(match[1]));
      expect(waits.length).toBeGreaterThan(3);
      expect(Math.max(...waits)).toBeLessThanOrEqual(2000);
      expect(tried).toBeGreaterThan(1900);
      expect(tried).toBeLessThan(2000 + 3000);
    } finally {
      client.proc.kill("SIGKILL");
      server.proc.kill("SIGKILL");
    }
  });

  test.each([
    ["refused (nothing listens)", REFUSED, "[REFUSED] Connection refused. Make sure the server is running."],
    [
      "timed out (a listener that never accepts)",
      TIMEOUT,
      "[TIMEOUT] Connection attempt timed out. Is the server running?",
    ],
  ])("--reconnect-for bounds the time from the first attempt too: %s", async (kind, exitCode, line) => {
    const listener = kind.startsWith("timed") ? await unacceptingListener() : undefined;
    const port = listener?.port ?? freePort();
    try {
      const startedAt = performance.now();
      const result = await runClient(
        ["--port", String(port), "--reconnect", "--reconnect-for", "1.5", "--timeout", "0.5", "-m", "hi"],
        { deadlineMs: DEADLINE_MS },
      );
      const took = performance.now() - startedAt;
      expect(result.exitCode).toBe(exitCode);
      expect(result.stderr).toContain(`${line}\n`);
      expect(result.stderr).toMatch(/\[RECONNECTING\] .+; retrying in \d+ ms \(0 unacknowledged\)\n/);
      // Attempts stop when the time is spent; one under way then is cut by --timeout.
      expect(took).toBeGreaterThan(1500);
      expect(took).toBeLessThan(1500 + 500 + 3000);
    } finally {
      await listener?.close();
    }
  });
});

describe("what is sent again, and what is printed", () => {
  test.each([
    ["a reset", (socket: Socket<undefined>) => socket.terminate()],
    ["a close", (socket: Socket<undefined>) => void socket.end()],
    ["'ERROR server shutting down'", (socket: Socket<undefined>) => void socket.end("ERROR server shutting down\n")],
    // A server killed mid-write, or a proxy closing behind it: a piece of an ack is not one.
    ["an ack cut short by the close", (socket: Socket<undefined>) => void socket.end(ack("three").slice(0, 12))],
    ["the first bytes of an ack, then the close", (socket: Socket<undefined>) => void socket.end("Mess")],
  ])(
    "after %s: exactly the unacknowledged messages go again, in order; each ack is printed once",
    async (_, hangUp) => {
      // The first connection acknowledges two of five and hangs up after taking in the fourth:
      // the third and fourth reached a server, their acks never came back.
      const server = scriptedServer([
        (socket, line, index) => {
          if (index < 2) acknowledge(socket, line);
          else if (index === 3) hangUp(socket);
        },
        acknowledge,
      ]);
      try {
        const messages = ["one", "two", "three", "four", "five"];
        const result = await runClient([
          "--port",
          String(server.port),
          "--reconnect",
          ...messages.flatMap((message) => ["-m", message]),
        ]);
        expect(result.exitCode).toBe(0);
        expect(result.stdout).toBe(messages.map((message) => `${ack(message)}\n`).join(""));
        expect(server.received[0]!.slice(0, 4)).toEqual(["one", "two", "three", "four"]);
        expect(server.received[1]).toEqual(["three", "four", "five"]);
        expect(result.stderr).toMatch(/\[RECONNECTING\] .+; retrying in \d+ ms \(3 unacknowledged\)\n/);
      } finally {
        server.stop();
      }
    },
  );

  test("--json: reconnecting and connected are events with their fields; each ack one object, in order", async () => {
    const server = scriptedServer([
      (socket, line, index) => (index === 0 ? acknowledge(socket, line) : socket.terminate()),
      acknowledge,
    ]);
    try {
      const result = await runClient([
        "--port",
        String(server.port),
        "--reconnect",
        "--json",
        "-m",
        "a",
        "-m",
        "b",
        "-m",
        "c",
      ]);
      expect(result.exitCode).toBe(0);
      expect(
        result.stdout
          .trimEnd()
          .split("\n")
          .map((line) => JSON.parse(line).message),
      ).toEqual(["a", "b", "c"]);
      const events = result.stderr
        .trimEnd()
        .split("\n")
        .map((line) => JSON.parse(line));
      expect(events.map((event) => event.event)).toEqual([
        "connecting",
        "connected",
        "reconnecting",
        "connected",
        "disconnected",
      ]);
      // A reset can reach us as a plain close when it lands as the socket closes.
      expect(events[2]).toMatchObject({
        reason: expect.stringMatching(/^(Connection was reset by the server|Server closed the connection)$/),
        unacknowledged: 2,
      });
      expect(events[2].retry_in_ms).toBeGreaterThan(0);
    } finally {
      server.stop();
    }
  });

  test("'ERROR server is full' as soon as we connect, twice: retried with growing waits, then served", async () => {
    let connections = 0;
    const fake = startFakeServer({
      open(socket) {
        if (++connections <= 2) socket.end("ERROR server is full\n");
      },
      data(socket, chunk) {
        for (const line of chunk.toString().split("\n").slice(0, -1)) acknowledge(socket, line);
      },
    });
    try {
      const result = await runClient(["--port", String(fake.port), "--reconnect", "-m", "a"]);
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toBe(`${ack("a")}\n`);
      const waits = [...result.stderr.matchAll(/\[RECONNECTING\] server is full; retrying in (\d+) ms/g)];
      expect(waits.length).toBe(2);
      // No ack in between, so the second wait is drawn from the doubled range.
      expect(Number(waits[1]![1])).toBeGreaterThanOrEqual(100);
    } finally {
      fake.stop();
    }
  });

  test("TLS: a server that hangs up during the handshake (a balancer whose backend restarts), twice: retried, then served", async () => {
    // Taken for a TLS failure like an untrusted certificate, it ended the run at once with exit 6.
    using certs = makeCertificates();
    const backend = Bun.listen<undefined>({
      hostname: "127.0.0.1",
      port: 0,
      tls: { cert: Bun.file(certs.server.cert), key: Bun.file(certs.server.key) },
      socket: {
        data(socket, chunk) {
          for (const line of chunk.toString().split("\n").slice(0, -1)) acknowledge(socket, line);
        },
        error() {},
      },
    });
    // The balancer: plain TCP, closing its first two connections at once (no backend yet), then
    // relaying bytes to the TLS backend.
    let connections = 0;
    const listener = Bun.listen<{ relay?: Socket<undefined>; early: Buffer[] }>({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        async open(socket) {
          socket.data = { early: [] };
          if (++connections <= 2) return void socket.end();
          const relay = await Bun.connect<undefined>({
            hostname: "127.0.0.1",
            port: backend.port,
            socket: { data: (_relay, chunk) => void socket.write(chunk), close: () => void socket.end(), error() {} },
          });
          for (const chunk of socket.data.early) relay.write(chunk);
          socket.data.relay = relay;
        },
        data(socket, chunk) {
          if (socket.data.relay) socket.data.relay.write(chunk);
          else socket.data.early.push(Buffer.from(chunk));
        },
        close: (socket) => void socket.data.relay?.end(),
        error() {},
      },
    });
    try {
      const tls = ["--tls", "--tls-ca", certs.ca];
      const result = await runClient(["--port", String(listener.port), ...tls, "--reconnect", "-m", "a"]);
      expect(result.stderr).toContain("[RECONNECTING] The server closed the connection during the TLS handshake");
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toBe(`${ack("a")}\n`);
      expect(connections).toBe(3);
      // A server that never answers the handshake (one speaking plain text, waiting for a line),
      // on the first connection: a wrong --tls, which waiting would not change. Exit 6 after
      // --timeout, not after --reconnect-for.
      const silent = startFakeServer({});
      try {
        const started = performance.now();
        const args = ["--port", String(silent.port), ...tls, "--reconnect", "--timeout", "1", "-m", "a"];
        const wrong = await runClient(args);
        expect(wrong.exitCode).toBe(6);
        expect(wrong.stderr).toContain("did not complete the TLS handshake");
        expect(wrong.stderr).not.toContain("[RECONNECTING]");
        expect(performance.now() - started).toBeLessThan(10_000);
      } finally {
        silent.stop();
      }
      // A certificate that does not verify fails the same way on every connection: not retried.
      const untrusted = await runClient(["--port", String(listener.port), "--tls", "--reconnect", "-m", "a"]);
      expect(untrusted.exitCode).toBe(6);
      expect(untrusted.stderr).not.toContain("[RECONNECTING]");
    } finally {
      listener.stop(true);
      backend.stop(true);
    }
  });

  test("--quiet silences [RECONNECTING] and [CONNECTED]; a give-up's error line stays", async () => {
    const server = scriptedServer([
      (socket, line, index) => (index === 0 ? acknowledge(socket, line) : socket.terminate()),
      acknowledge,
    ]);
    try {
      const args = ["--port", String(server.port), "--reconnect", "--quiet", "-m", "a", "-m", "b"];
      const result = await runClient(args);
      expect(result).toMatchObject({ exitCode: 0, stderr: "" });
      expect(result.stdout).toBe(`${ack("a")}\n${ack("b")}\n`);
    } finally {
      server.stop();
    }
    const refused = await runClient([
      "--port",
      String(freePort()),
      "--reconnect",
      "--reconnect-for",
      "0.3",
      "--quiet",
      "-m",
      "a",
    ]);
    expect(refused).toMatchObject({
      exitCode: REFUSED,
      stderr: "[REFUSED] Connection refused. Make sure the server is running.\n",
    });
  });

  test("raw framing: the message whose reply never came is sent again, alone", async () => {
    const server = scriptedServer(
      [
        (socket, line, index) => (index === 0 ? void socket.write(ack(line)) : socket.terminate()),
        (socket, line) => void socket.write(ack(line)),
      ],
      "raw",
    );
    try {
      const result = await runClient(["--port", String(server.port), "--framing", "raw", "--reconnect"], {
        stdin: "first\nsecond\nthird\n",
      });
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toBe(["first", "second", "third"].map((message) => `${ack(message)}\n`).join(""));
      expect(server.received[1]).toEqual(["second", "third"]);
    } finally {
      server.stop();
    }
  });

  test("a message the server calls too long is not sent again: exit 5 at once", async () => {
    const server = await startServerProcess(["--max-message-bytes", "16", "--quiet"]);
    try {
      const result = await runClient([
        "--port",
        String(server.port),
        "--reconnect",
        "-m",
        "short",
        "-m",
        "much longer than sixteen bytes",
      ]);
      expect(result.exitCode).toBe(LOST);
      expect(result.stderr).toContain("[ERROR] message too long (limit 16 bytes)");
      expect(result.stderr).not.toContain("[RECONNECTING]");
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  test.each([
    ["--reconnect-for", ["--reconnect-for", "10"]],
    ["--resend-buffer", ["--resend-buffer=1m"]],
  ])(
    "%s without --reconnect is a usage error (it did nothing: a refused connection was exit 3 at once)",
    async (flag, given) => {
      const result = await runClient(["--port", String(freePort()), ...given, "-m", "x"]);
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toContain(`${flag} needs --reconnect`);
    },
  );

  test("interactive mode refuses --reconnect with a usage error", async () => {
    const session = TerminalSession.start(SOURCE_CLIENT, ["--port", String(freePort()), "--reconnect"]);
    try {
      expect(await session.exited()).toBe(2);
      expect(session.screen.join("\n")).toContain("--reconnect is for pipelines");
    } finally {
      await session.close();
    }
  });
});

describe("--resend-buffer bounds what is kept", () => {
  test("a server that takes messages and does not acknowledge them: input stops at the buffer, then all goes through", async () => {
    const BUFFER = 1024 * 1024;
    const LINES = 600_000; // ~9 MB: far more than the buffer
    let acking = false;
    let receivedBytes = 0;
    const pending: Array<[Socket<undefined>, string]> = [];
    const server = scriptedServer([
      (socket, line) => {
        receivedBytes += line.length + 1;
        if (acking) acknowledge(socket, line);
        else pending.push([socket, line]);
      },
    ]);
    const client = startClientProcess(["--port", String(server.port), "--reconnect", "--resend-buffer", "1m"]);
    try {
      client.send(lines(0, LINES));
      client.endInput();
      // Wait until the client stops sending: nothing new for a while.
      let last = -1;
      while (receivedBytes !== last) {
        last = receivedBytes;
        await Bun.sleep(300);
      }
      // What reached the server is what the client keeps: the buffer, plus one read of input
      // (Bun reads at most 512 KiB at a time).
      expect(receivedBytes).toBeGreaterThan(BUFFER);
      expect(receivedBytes).toBeLessThan(BUFFER + 512 * 1024);
      expect(client.proc.exitCode).toBeNull();
      acking = true;
      for (const [socket, line] of pending.splice(0)) acknowledge(socket, line);
      expect(await client.exited()).toBe(0);
      expect(client.stdout.text === acks(0, LINES)).toBe(true);
    } finally {
      client.proc.kill("SIGKILL");
      server.stop();
    }
  });
});
