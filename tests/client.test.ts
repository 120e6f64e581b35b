// The client as a real process against servers that misbehave on purpose: one that never accepts,
// none at all, one that resets or closes mid-session, one that sends a notice, one that never
// answers. Each failure must end the run with the spec's line on stderr and exit code, never hang.
import { afterEach, describe, expect, test } from "bun:test";
import type { Socket, TCPSocketListener } from "bun";
import { serveInProcess } from "./helpers/in-process-server.ts";
import { type ClientProcess, runClient, startClientProcess, startServerProcess } from "./helpers/processes.ts";
import { freePort, unacceptingListener } from "./helpers/sockets.ts";
import { ackLine } from "./helpers/spec.ts";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A client fed over time through its stdin; killed after the test if still running. */
function pipelineClient(args: string[]): ClientProcess {
  const client = startClientProcess(args);
  cleanups.push(() => client.exited(1).catch(() => {}));
  return client;
}

/**
 * A server that follows a script: `onLine` is called for each line a client sends (0, 1, 2...)
 * and decides what to do with the socket: acknowledge, reset, close, say something else.
 */
function scriptedServer(
  onLine: (socket: Socket<{ buffered: string; count: number }>, line: string, index: number) => void,
) {
  const listener: TCPSocketListener<{ buffered: string; count: number }> = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket) {
        socket.data = { buffered: "", count: 0 };
      },
      data(socket, chunk) {
        socket.data.buffered += chunk.toString();
        for (let lf = socket.data.buffered.indexOf("\n"); lf !== -1; lf = socket.data.buffered.indexOf("\n")) {
          const line = socket.data.buffered.slice(0, lf);
          socket.data.buffered = socket.data.buffered.slice(lf + 1);
          onLine(socket, line, socket.data.count++);
        }
      },
    },
  });
  cleanups.push(() => listener.stop(true));
  return listener.port;
}

describe("connecting", () => {
  test("a server that never accepts: [TIMEOUT] after --timeout, exit 4", async () => {
    const { port, close } = await unacceptingListener();
    cleanups.push(close);
    const result = await runClient(["--port", String(port), "--timeout", "1", "-m", "hi"], { deadlineMs: 8000 });
    expect(result.exitCode).toBe(4);
    expect(result.stderr.split("\n")).toEqual([
      `[CONNECTING] Connecting to server at 127.0.0.1:${port}...`,
      "[TIMEOUT] Connection attempt timed out. Is the server running?",
      "[DISCONNECTED] Disconnected from server",
      "",
    ]);
    expect(result.stdout).toBe("");
  });

  test("no server: [REFUSED], exit 3, in the tutorial's words", async () => {
    const port = freePort();
    const result = await runClient(["--port", String(port), "-m", "hi"]);
    expect(result.exitCode).toBe(3);
    expect(result.stderr.split("\n")).toEqual([
      `[CONNECTING] Connecting to server at 127.0.0.1:${port}...`,
      "[REFUSED] Connection refused. Make sure the server is running.",
      "[DISCONNECTED] Disconnected from server",
      "",
    ]);
    expect(result.stdout).toBe("");
  });
});

describe("the server fails mid-session", () => {
  // The server acknowledges the first message; on the second it does what the case says. The
  // client must print the first ack, then say how the session ended and what went unacknowledged.
  const cases: Array<[name: string, fail: (socket: Socket<unknown>) => void, error: string]> = [
    [
      "reset by the server",
      (socket) => socket.terminate(),
      "[ERROR] Connection was reset by the server (1 of 2 messages unacknowledged)",
    ],
    [
      "closed by the server",
      (socket) => socket.end(),
      "[ERROR] Server closed the connection (1 of 2 messages unacknowledged)",
    ],
    [
      "a server notice, shown escaped",
      (socket) => socket.end("ERROR something \x1b[2J happened\n"),
      "[ERROR] something \\x1b[2J happened (1 of 2 messages unacknowledged)",
    ],
  ];
  for (const [name, fail, error] of cases) {
    test(`${name}: exit 5, ${error}`, async () => {
      const port = scriptedServer((socket, line, index) => {
        if (index === 0) socket.write(ackLine(line));
        else fail(socket);
      });
      const client = pipelineClient(["--port", String(port)]);
      client.send("first\n");
      await client.stdout.waitFor(ackLine("first"));
      client.send("second\n");
      expect(await client.exited()).toBe(5);
      expect(client.stdout.text).toBe(ackLine("first"));
      expect(client.stderr.lines.slice(-2)).toEqual([error, "[DISCONNECTED] Disconnected from server"]);
    });
  }

  test("a server that accepts and never answers: --response-timeout ends the run, exit 5", async () => {
    const port = scriptedServer(() => {});
    const result = await runClient(["--port", String(port), "--response-timeout", "1", "-m", "anyone there?"], {
      deadlineMs: 8000,
    });
    expect(result.exitCode).toBe(5);
    expect(result.stdout).toBe("");
    expect(result.stderr.split("\n").slice(-3)).toEqual([
      "[ERROR] No response from server for 1 s (1 of 1 message unacknowledged)",
      "[DISCONNECTED] Disconnected from server",
      "",
    ]);
  });
});

describe("pipeline", () => {
  test("a slow stdin: each ack is printed as it comes, before the input ends", async () => {
    await using served = serveInProcess();
    const { server, recorder } = served;
    const client = pipelineClient(["--port", String(server.port), "--quiet"]);
    const messages = ["first", "second", "third"];
    for (const message of messages) {
      client.send(`${message}\n`);
      // The input is still open: the ack must not wait for the end of it.
      await client.stdout.waitFor(`${ackLine(message)}`);
    }
    client.endInput();
    expect(await client.exited()).toBe(0);
    expect(client.stdout.text).toBe(messages.map(ackLine).join(""));
    expect(client.stderr.text).toBe("");
    expect(recorder.messages()).toEqual(messages);
  });

  test("Ctrl+C (SIGINT) in the middle of a pipeline: [INTERRUPT], exit 130", async () => {
    await using served = serveInProcess();
    const { server } = served;
    const client = pipelineClient(["--port", String(server.port)]);
    client.send("before the interrupt\n");
    await client.stdout.waitFor(ackLine("before the interrupt"));
    client.proc.kill("SIGINT");
    expect(await client.exited()).toBe(130);
    expect(client.stdout.text).toBe(ackLine("before the interrupt"));
    expect(client.stderr.lines.slice(-2)).toEqual([
      "[INTERRUPT] Client shutting down...",
      "[DISCONNECTED] Disconnected from server",
    ]);
  });

  test("-m with raw framing: one message per read, one ack per line on stdout", async () => {
    await using served = serveInProcess({ framing: "raw" });
    const { server, recorder } = served;
    const result = await runClient([
      "--port",
      String(server.port),
      "--framing",
      "raw",
      "-m",
      "one",
      "-m",
      "two words",
      "-m",
      "three",
    ]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe(ackLine("one") + ackLine("two words") + ackLine("three"));
    expect(recorder.messages()).toEqual(["one", "two words", "three"]);
  });
});

describe("raw framing in a pipeline", () => {
  test("empty lines are skipped (raw framing cannot carry an empty message); the rest are acknowledged", async () => {
    const server = await startServerProcess(["--framing", "raw", "--quiet"]);
    try {
      const result = await runClient(["--port", String(server.port), "--framing", "raw", "--response-timeout", "5"], {
        stdin: "a\n\nb\n",
      });
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toBe("Message 'a' received successfully\nMessage 'b' received successfully\n");
    } finally {
      await server.stop();
    }
  });
});
