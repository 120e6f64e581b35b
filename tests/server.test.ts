// The server in this process (startServer), driven over real loopback sockets by raw clients that
// control exactly which bytes arrive in which read. Events are recorded to check what the log says.
import { describe, expect, test } from "bun:test";
import { createLogger } from "../src/output/logger.ts";
import { createLineSink } from "../src/output/sink.ts";
import { readsCanBeFreed } from "../src/server/events.ts";
import { createServerReporter } from "../src/server/reporter.ts";
import { ListenError, startServer } from "../src/server/server.ts";
import { serveInProcess } from "./helpers/in-process-server.ts";
import { DEADLINE_MS, withDeadline } from "./helpers/processes.ts";
import { EventRecorder } from "./helpers/server-events.ts";
import { RawClient } from "./helpers/sockets.ts";
import { ackLine, SHUTDOWN_NOTICE_LINE } from "./helpers/spec.ts";

const peerOf = (client: RawClient) => `127.0.0.1:${client.localPort}`;

describe("line framing over a socket", () => {
  test("a message that arrives one byte per read is acknowledged once, when its LF arrives", async () => {
    await using served = serveInProcess();
    const { recorder, connect } = served;
    const client = await connect();
    await client.writeInPieces("split into bytes", 1);
    expect(recorder.messages()).toEqual([]);
    expect(client.replies.text).toBe("");
    client.write("\n");
    await client.waitFor(ackLine("split into bytes"));
    expect(recorder.messages()).toEqual(["split into bytes"]);
  });

  test("many messages in one read get one ack each, in order", async () => {
    await using served = serveInProcess();
    const { recorder, connect } = served;
    const client = await connect();
    const messages = Array.from({ length: 500 }, (_, i) => `message ${i}`);
    client.write(messages.map((m) => `${m}\n`).join(""));
    const expected = messages.map(ackLine).join("");
    await client.waitFor(expected);
    expect(client.replies.text).toBe(expected);
    expect(recorder.messages()).toEqual(messages);
  });

  test("a library user with only the message event gets each message of a plain read through it", async () => {
    // Without messageLines the server must not take the byte path's report: every message comes
    // one at a time, as text, whatever the read holds.
    const recorder = new EventRecorder();
    const { messageLines: _, ...onlyMessage } = recorder.events;
    await using served = serveInProcess({ events: onlyMessage });
    const client = await served.connect();
    const messages = ["plain", "with CRLF\r", "", ...Array.from({ length: 300 }, (_, i) => `message ${i}`)];
    client.write(messages.map((m) => `${m}\n`).join(""));
    const texts = messages.map((m) => m.replace(/\r$/, ""));
    await client.waitFor(texts.map(ackLine).join(""));
    expect(recorder.messages()).toEqual(texts);
  });

  test("a library user's messageLines may keep the bytes it is given: they stay whole", async () => {
    // The server frees a large read once handled only when its own reporter, which copies, takes
    // the event; a user's handler may keep `lines` (or a view of it) as long as it likes.
    // (A line cut between two reads comes through `message`, as text.)
    const kept: Buffer[] = [];
    await using served = serveInProcess({
      events: {
        message: (_peer, text) => void kept.push(Buffer.from(`${text}\n`)),
        messageLines: (_peer, lines) => void kept.push(lines.subarray(0)),
      },
    });
    const client = await served.connect();
    const input = Array.from({ length: 20_000 }, (_, i) => `line ${i}\n`).join("");
    client.write(input);
    await client.waitFor(ackLine("line 19999"));
    expect(Math.max(...kept.map((lines) => lines.length))).toBeGreaterThanOrEqual(16 * 1024);
    expect(Buffer.concat(kept).toString()).toBe(input);
  });

  test("the program's own reporter copies what it is given, so the server frees large reads", () => {
    const sink = createLineSink("stderr");
    const reporter = createServerReporter({
      logger: createLogger({ level: "error", format: "text" }),
      messages: sink,
      json: false,
    });
    expect(reporter.messageLines).toBeDefined();
    expect(readsCanBeFreed(reporter)).toBe(true);
    expect(readsCanBeFreed({ messageLines: () => {} })).toBe(false);
    expect(readsCanBeFreed({ message: () => {} })).toBe(true);
  });

  test("CRLF line endings: the CR before LF is dropped, a CR elsewhere is kept", async () => {
    await using served = serveInProcess();
    const { recorder, connect } = served;
    const client = await connect();
    client.write("one\r\ntwo\r\n\r\na\rb\n");
    const expected = ackLine("one") + ackLine("two") + ackLine("") + ackLine("a\rb");
    await client.waitFor(expected);
    expect(client.replies.text).toBe(expected);
    expect(recorder.messages()).toEqual(["one", "two", "", "a\rb"]);
  });

  test("a CRLF split between reads (CR in one, LF in the next) is still one line ending", async () => {
    await using served = serveInProcess();
    const { recorder, connect } = served;
    const client = await connect();
    await client.writeInPieces("abc\r\n", 4);
    await client.waitFor(ackLine("abc"));
    expect(client.replies.text).toBe(ackLine("abc"));
    expect(recorder.messages()).toEqual(["abc"]);
  });

  test("multi-byte UTF-8 characters split across writes arrive whole", async () => {
    await using served = serveInProcess();
    const { recorder, connect } = served;
    const client = await connect();
    const text = "ñ€😀 日本語";
    // One byte per read cuts every character; 3 bytes per read cuts them at other places.
    await client.writeInPieces(`${text}\n`, 1);
    await client.writeInPieces(`${text}\n`, 3);
    await client.waitFor(ackLine(text) + ackLine(text));
    expect(client.replies.text).toBe(ackLine(text) + ackLine(text));
    expect(recorder.messages()).toEqual([text, text]);
  });

  test("empty lines are messages too", async () => {
    await using served = serveInProcess();
    const { recorder, connect } = served;
    const client = await connect();
    client.write("\n\nx\n\n");
    const expected = ackLine("") + ackLine("") + ackLine("x") + ackLine("");
    await client.waitFor(expected);
    expect(client.replies.text).toBe(expected);
    expect(recorder.messages()).toEqual(["", "", "x", ""]);
  });

  test("bytes that are not UTF-8 become U+FFFD in the ack and the event", async () => {
    await using served = serveInProcess();
    const { recorder, connect } = served;
    const client = await connect();
    // a, a lone continuation byte, b, a lead byte cut short by the LF.
    client.write(new Uint8Array([0x61, 0xff, 0x62, 0xc3, 0x0a, 0x6f, 0x6b, 0x0a]));
    const expected = ackLine("a\ufffdb\ufffd") + ackLine("ok");
    await client.waitFor(expected);
    expect(client.replies.text).toBe(expected);
    expect(recorder.messages()).toEqual(["a\ufffdb\ufffd", "ok"]);
  });

  test("a last line without LF, then the client's FIN: still a message, acknowledged before the close", async () => {
    await using served = serveInProcess();
    const { recorder, connect } = served;
    const client = await connect();
    client.write("complete\nunfinished");
    client.finishSending();
    // Bun reports the server's FIN after our own as a plain close, not as an end.
    expect(await client.closedByServer()).not.toBe("reset");
    expect(client.replies.text).toBe(ackLine("complete") + ackLine("unfinished"));
    expect(recorder.messages()).toEqual(["complete", "unfinished"]);
  });

  test("many clients at once each get only their own acks, in order", async () => {
    await using served = serveInProcess();
    const { recorder, connect } = served;
    const clientCount = 25;
    const rounds = 8;
    const perRound = 5;
    const connected = await Promise.all(Array.from({ length: clientCount }, connect));
    const sent = connected.map(() => [] as string[]);
    // Interleave: every client writes a few messages per round, so the server's reads mix clients.
    for (let round = 0; round < rounds; round++) {
      connected.forEach((client, c) => {
        const batch = Array.from({ length: perRound }, (_, i) => `client ${c} message ${round * perRound + i}`);
        sent[c]!.push(...batch);
        client.write(batch.map((m) => `${m}\n`).join(""));
      });
      await Bun.sleep(1);
    }
    await Promise.all(connected.map((client, c) => client.waitFor(sent[c]!.map(ackLine).join(""))));
    connected.forEach((client, c) => {
      expect(client.replies.text).toBe(sent[c]!.map(ackLine).join(""));
      expect(recorder.messages(peerOf(client))).toEqual(sent[c]!);
    });
    expect(recorder.of("message").length).toBe(clientCount * rounds * perRound);
  });
});

describe("raw framing (the tutorial's protocol)", () => {
  test("each read is one message, and the reply has no line ending", async () => {
    await using served = serveInProcess({ framing: "raw" });
    const { recorder, connect } = served;
    const client = await connect();
    let expected = "";
    for (const message of ["Hello", "two words", "wörld", "a\nb"]) {
      client.write(message);
      expected += `Message '${message}' received successfully`;
      // Wait for each reply before the next write, as the tutorial's client does: one read each.
      await client.waitFor(expected);
    }
    expect(client.replies.text).toBe(expected);
    expect(recorder.messages()).toEqual(["Hello", "two words", "wörld", "a\nb"]);
  });

  test("stop(): the shutdown notice has no line ending either", async () => {
    await using served = serveInProcess({ framing: "raw" });
    const { server, connect } = served;
    const client = await connect();
    client.write("last words");
    await client.waitFor("Message 'last words' received successfully");
    await server.stop();
    expect(await client.closedByServer()).toBe("end");
    expect(client.replies.text).toBe("Message 'last words' received successfullyERROR server shutting down");
  });
});

describe("connections", () => {
  test("connected and disconnected events count the active connections", async () => {
    await using served = serveInProcess();
    const { server, recorder, connect } = served;
    const first = await connect();
    await recorder.until((r) => r.of("connected").length === 1, "first connection");
    const second = await connect();
    const third = await connect();
    await recorder.until((r) => r.of("connected").length === 3, "three connections");
    expect(recorder.of("connected").map((e) => e.active)).toEqual([1, 2, 3]);
    expect(recorder.of("connected")[0]!.peer).toBe(peerOf(first));
    expect(server.activeConnections).toBe(3);

    for (const client of [second, first, third]) {
      client.end();
      await recorder.until((r) => r.of("disconnected").some((e) => e.peer === peerOf(client)), "a disconnect");
    }
    expect(recorder.of("disconnected").map((e) => [e.peer, e.active])).toEqual([
      [peerOf(second), 2],
      [peerOf(first), 1],
      [peerOf(third), 0],
    ]);
    expect(server.activeConnections).toBe(0);
    expect(recorder.of("reset")).toEqual([]);
    expect(recorder.of("socketError")).toEqual([]);
  });

  test("a client that resets its connection is reported as a reset, then as disconnected", async () => {
    await using served = serveInProcess();
    const { server, recorder, connect } = served;
    const client = await connect();
    client.write("before the reset\n");
    await client.waitFor(ackLine("before the reset"));
    const peer = peerOf(client);
    client.terminate();
    await recorder.until((r) => r.of("disconnected").length === 1, "the disconnect");
    expect(recorder.of("reset")).toEqual([{ type: "reset", peer }]);
    expect(recorder.log.filter((e) => e.type === "reset" || e.type === "disconnected").map((e) => e.type)).toEqual([
      "reset",
      "disconnected",
    ]);
    expect(recorder.of("socketError")).toEqual([]);
    expect(server.activeConnections).toBe(0);
  });

  test("listening on an address in use throws a ListenError with a plain reason", async () => {
    await using served = serveInProcess();
    const { server } = served;
    let caught: unknown;
    try {
      startServer({ host: "127.0.0.1", port: server.port }).kill();
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ListenError);
    expect((caught as ListenError).code).toBe("EADDRINUSE");
    expect((caught as ListenError).message).toBe(`Address 127.0.0.1:${server.port} is already in use`);
  });
});

describe("stop()", () => {
  test("is safe to call twice: one shutdown, one close, both calls resolve", async () => {
    await using served = serveInProcess();
    const { server, recorder, connect } = served;
    const client = await connect();
    const first = server.stop();
    const second = server.stop();
    expect(second).toBe(first);
    await Promise.all([first, second]);
    await server.stop();
    expect(recorder.of("shuttingDown").length).toBe(1);
    expect(recorder.of("closed").length).toBe(1);
    expect(await client.closedByServer()).toBe("end");
    expect(client.replies.text).toBe(SHUTDOWN_NOTICE_LINE);
  });

  test("sends every owed ack, then ERROR server shutting down, then closes", async () => {
    // The client stops reading, so its acks back up past the kernel's buffers into the server's
    // outbox (the output limit is raised so the server keeps reading). stop() must still send
    // all of them, in order, before the notice.
    await using served = serveInProcess({ limits: { maxOutputBytes: 64 * 1024 * 1024 } });
    const { server, recorder, connect } = served;
    const client = await connect();
    client.pause();
    const filler = "x".repeat(500);
    const count = 12_000;
    client.write(Array.from({ length: count }, (_, i) => `${i} ${filler}\n`).join(""));
    await recorder.until((r) => r.of("message").length === count, `${count} messages received`);
    const stopped = server.stop();
    client.resume();
    expect(await client.closedByServer()).toBe("end");
    await stopped;
    const expected = Array.from({ length: count }, (_, i) => ackLine(`${i} ${filler}`)).join("") + SHUTDOWN_NOTICE_LINE;
    expect(client.replies.text.length).toBe(expected.length);
    expect(client.replies.text === expected).toBe(true);
    expect(recorder.log.map((e) => e.type).slice(-3)).toEqual(["shuttingDown", "disconnected", "closed"]);
  });

  test("with several clients: each gets its acks and the notice, and stop() resolves after they are closed", async () => {
    await using served = serveInProcess();
    const { server, recorder, connect } = served;
    const connected = await Promise.all(Array.from({ length: 5 }, connect));
    for (const [c, client] of connected.entries()) client.write(`hello from ${c}\nbye from ${c}\n`);
    await recorder.until((r) => r.of("message").length === 10, "10 messages");
    await server.stop();
    expect(server.activeConnections).toBe(0);
    for (const [c, client] of connected.entries()) {
      expect(await client.closedByServer()).toBe("end");
      expect(client.replies.text).toBe(ackLine(`hello from ${c}`) + ackLine(`bye from ${c}`) + SHUTDOWN_NOTICE_LINE);
    }
    expect(recorder.of("disconnected").length).toBe(5);
    expect(recorder.log.at(-1)).toEqual({ type: "closed" });
  });

  test("the drain timeout bounds stop() when a client neither reads nor hangs up", async () => {
    // The linger (how long one closing connection waits for its peer) is far longer than the
    // test's deadline: only the drain timeout can end this stop() in time.
    await using served = serveInProcess({
      drainTimeoutMs: 200,
      closeTimeoutMs: 60_000,
      limits: { maxOutputBytes: 64 * 1024 * 1024 },
    });
    const { server, recorder, connect } = served;
    const client = await connect();
    client.pause();
    const count = 10_000;
    client.write(`${"y".repeat(500)}\n`.repeat(count));
    await recorder.until((r) => r.of("message").length === count, `${count} messages received`);
    await withDeadline(server.stop(), DEADLINE_MS, "stop() did not resolve");
    expect(server.activeConnections).toBe(0);
    expect(recorder.log.map((e) => e.type).slice(-3)).toEqual(["shuttingDown", "disconnected", "closed"]);
  });

  test("after stop() no new connection is accepted", async () => {
    await using served = serveInProcess();
    const { server } = served;
    await server.stop();
    await expect(RawClient.connect(server.port)).rejects.toThrow();
  });
});

describe("closing a connection that still owes replies", () => {
  // More than loopback's socket buffers hold, so most replies wait in the server's outbox.
  const message = "z".repeat(500);
  const lines = 20_000;
  const expected = ackLine(message).repeat(lines);

  test("a client that reads slowly after its FIN, with pauses shorter than the linger, gets every ack", async () => {
    await using served = serveInProcess({ closeTimeoutMs: 500, limits: { maxOutputBytes: 64 * 1024 * 1024 } });
    const { recorder, connect } = served;
    const client = await connect();
    client.pause();
    client.write(`${message}\n`.repeat(lines));
    client.finishSending();
    await recorder.until((r) => r.of("message").length === lines, `${lines} messages received`);
    // Read in short bursts with gaps under the linger: the server waits for a reader that keeps coming back.
    while (client.replies.text.length < expected.length) {
      await Bun.sleep(300);
      client.resume();
      await Bun.sleep(5);
      client.pause();
    }
    client.resume();
    // Both sides have sent FIN: Bun reports the end as a close; what matters is that it is no reset.
    expect(await client.closedByServer()).not.toBe("reset");
    expect(client.replies.text).toBe(expected);
    expect(recorder.of("repliesUndelivered")).toEqual([]);
  });

  test("a client that stops reading is closed after the linger; the dropped bytes are reported", async () => {
    await using served = serveInProcess({ closeTimeoutMs: 300, limits: { maxOutputBytes: 64 * 1024 * 1024 } });
    const { server, recorder, connect } = served;
    const client = await connect();
    client.pause();
    client.write(`${message}\n`.repeat(lines));
    client.finishSending();
    await recorder.until((r) => r.of("repliesUndelivered").length === 1, "the undelivered replies reported");
    const [report] = recorder.of("repliesUndelivered");
    expect(report!.peer).toBe(peerOf(client));
    expect(report!.bytes).toBeGreaterThan(0);
    expect(server.stats.undeliveredReplyBytes).toBe(report!.bytes);
    await recorder.until((r) => r.of("disconnected").length === 1, "the connection closed");
  });
});

describe("an event callback that throws (the library's caller's bug)", () => {
  // In a process of its own: the error comes back as an uncaught exception, which the script
  // records, as a host with an uncaughtException handler would.
  const script = (event: string) => `
    import { startServer } from ${JSON.stringify(`${import.meta.dir}/../src/index.ts`)};
    const thrown = [];
    process.on("uncaughtException", (error) => thrown.push(error.message));
    const server = startServer({
      port: 0,
      drainTimeoutMs: 5000,
      limits: { idleTimeoutMs: 300 },
      events: { ${event}() { throw new Error("boom ${event}"); } },
    });
    const replies = [];
    const socket = await Bun.connect({ hostname: "127.0.0.1", port: server.port, socket: { data: (_s, chunk) => replies.push(String(chunk)) } });
    socket.write("hi\\n");
    await Bun.sleep(600);
    const started = performance.now();
    const stopped = await Promise.race([server.stop().then(() => "stopped"), Bun.sleep(4000).then(() => "hung")]);
    const late = await Bun.connect({ hostname: "127.0.0.1", port: server.port, socket: { data() {} } }).then(() => "accepted", () => "refused");
    await Bun.sleep(20);
    console.log(JSON.stringify({ stopped, ms: performance.now() - started, late, thrown, replies: replies.join("") }));
    process.exit(0);
  `;

  test.each(["listening", "connected", "limitHit", "disconnected", "shuttingDown", "closed"])(
    "%s: the server still serves, times out and stops as it should, and the error reaches the host",
    async (event) => {
      const proc = Bun.spawn([process.execPath, "-e", script(event)], { stdout: "pipe", stderr: "pipe" });
      const out = await new Response(proc.stdout).text();
      expect(await proc.exited).toBe(0);
      const result = JSON.parse(out);
      expect(result.stopped).toBe("stopped");
      // The idle client was gone before stop(): nothing to wait for.
      expect(result.ms).toBeLessThan(1000);
      expect(result.late).toBe("refused");
      expect(result.thrown).toContain(`boom ${event}`);
      expect(result.replies).toBe(`${ackLine("hi")}ERROR idle timeout\n`);
    },
  );
});
