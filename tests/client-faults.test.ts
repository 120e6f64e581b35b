// Client faults (spec, "client"): a server that dies, stays silent, answers garbage or hangs up
// early. Every case ends with the right line and exit code, and none of them hangs.
import { describe, expect, test } from "bun:test";
import type { Socket } from "bun";
import { memoryKiB } from "../harness/procfs.ts";
import {
  CHILD_ENV,
  DEADLINE_MS,
  runClient,
  SOURCE_CLIENT,
  startServerProcess,
  TextCollector,
  withDeadline,
} from "./helpers/processes.ts";
import { startFakeServer } from "./helpers/sockets.ts";

const LOST = 5;

/** Runs the client against a fake server that behaves as given. */
async function againstFake(
  behaviour: Parameters<typeof startFakeServer>[0],
  args: string[],
  options: Parameters<typeof runClient>[1] = {},
) {
  const fake = startFakeServer(behaviour);
  try {
    return await runClient(["--port", String(fake.port), ...args], options);
  } finally {
    fake.stop();
  }
}

/** A fake server that acknowledges every line, correctly, until `after` acks; then does `then`. */
function ackingUntil(after: number, then: (socket: Socket<undefined>) => void) {
  let acked = 0;
  let held = "";
  return {
    data(socket: Socket<undefined>, chunk: Buffer) {
      held += chunk.toString();
      const lines = held.split("\n");
      held = lines.pop()!;
      for (const line of lines) {
        if (acked === after) return then(socket);
        socket.write(`Message '${line}' received successfully\n`);
        acked++;
      }
    },
  };
}

describe("the server goes away", () => {
  test("killed mid-stream: exit 5 with how many went unacknowledged, while stdin is still open", async () => {
    const server = await startServerProcess(["--quiet"]);
    const client = Bun.spawn([...SOURCE_CLIENT, "--port", String(server.port)], {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
      env: CHILD_ENV,
    });
    try {
      const stdout = new TextCollector(client.stdout);
      const stderr = new Response(client.stderr).text();
      for (let i = 0; i < 100; i++) client.stdin.write(`line ${i}\n`);
      client.stdin.flush();
      // Mid-stream: connected and acknowledged (a slow start on a busy machine would otherwise
      // make this a refused connection, exit 3).
      await stdout.waitFor("Message 'line 0' received successfully");
      server.proc.kill("SIGKILL");
      // Keep stdin open: the client must notice the server, not the end of its input.
      const code = await withDeadline(client.exited, DEADLINE_MS, "client hung after the server died");
      expect(code).toBe(LOST);
      expect(await stderr).toMatch(
        /\[ERROR\] (Connection was reset by the server|Server closed the connection) \((\d+) of (\d+) messages? unacknowledged\)\n/,
      );
      await stdout.done;
      expect(stdout.lines.length).toBeLessThanOrEqual(100);
    } finally {
      client.kill("SIGKILL");
      server.proc.kill("SIGKILL");
    }
  });

  test("closes as soon as we connect: exit 5, nothing acknowledged", async () => {
    const result = await againstFake({ open: (socket) => void socket.end() }, ["-m", "hi"]);
    expect(result.exitCode).toBe(LOST);
    // Our message may reach the closed socket, which the kernel answers with a reset.
    expect(result.stderr).toMatch(
      /\[ERROR\] (Server closed the connection|Connection was reset by the server) \(1 of 1 message unacknowledged\)\n/,
    );
    expect(result.stderr).toEndWith("[DISCONNECTED] Disconnected from server\n");
  });

  test("resets as soon as we connect: 'Connection was reset by the server', every time", async () => {
    const fake = startFakeServer({ open: (socket) => socket.terminate() });
    try {
      // The reset can land before or after Bun reports the connection open: both must read the same.
      const results = await Promise.all(
        Array.from({ length: 8 }, () => runClient(["--port", String(fake.port), "-m", "hi"])),
      );
      for (const result of results) {
        expect(result.exitCode).toBe(LOST);
        expect(result.stderr).toMatch(/\[ERROR\] (Connection was reset by the server|Server closed the connection)/);
      }
    } finally {
      fake.stop();
    }
  });

  test("closes after some acks: exit 5 and the count of the rest", async () => {
    const result = await againstFake(
      ackingUntil(2, (socket) => void socket.end()),
      ["-m", "a", "-m", "b", "-m", "c"],
    );
    expect(result.exitCode).toBe(LOST);
    expect(result.stdout).toBe("Message 'a' received successfully\nMessage 'b' received successfully\n");
    expect(result.stderr).toContain("[ERROR] Server closed the connection (1 of 3 messages unacknowledged)\n");
  });

  test("sends a notice: shown as '[ERROR] <notice>', exit 5", async () => {
    const result = await againstFake(
      ackingUntil(1, (socket) => void socket.end("ERROR server shutting down\n")),
      ["-m", "a", "-m", "b"],
    );
    expect(result.exitCode).toBe(LOST);
    expect(result.stdout).toBe("Message 'a' received successfully\n");
    expect(result.stderr).toContain("[ERROR] server shutting down (1 of 2 messages unacknowledged)\n");
  });
});

describe("exit 0 means every message was acknowledged", () => {
  test("a server that stops after any number of acks, in any way, never gives exit 0", async () => {
    const messages = Array.from({ length: 6 }, (_, i) => ["-m", `m${i}`]).flat();
    const endings: Array<[string, (socket: Socket<undefined>) => void]> = [
      ["FIN", (socket) => void socket.end()],
      ["RST", (socket) => socket.terminate()],
      ["notice", (socket) => void socket.end("ERROR server shutting down\n")],
    ];
    const runs = endings.flatMap(([how, end]) =>
      Array.from({ length: 6 }, async (_, acked) => {
        const result = await againstFake(ackingUntil(acked, end), messages);
        const acks = result.stdout.split("\n").filter((line) => line !== "").length;
        const unacked = /\((\d+) of 6 messages unacknowledged\)/.exec(result.stderr);
        return { how, acked, exitCode: result.exitCode, acks, unacknowledged: Number(unacked?.[1]) };
      }),
    );
    for (const run of await Promise.all(runs)) {
      // Every ack printed is counted; a reset may destroy acks still in flight, never add one.
      expect(run.acks).toBeLessThanOrEqual(run.acked);
      if (run.how !== "RST") expect(run.acks).toBe(run.acked);
      expect(run).toEqual({ ...run, exitCode: LOST, unacknowledged: 6 - run.acks });
    }
  });
});

describe("the server does not answer", () => {
  test("reads but never answers: the response timeout ends the run", async () => {
    const result = await againstFake({}, ["-m", "hello?", "--response-timeout", "0.5"]);
    expect(result.exitCode).toBe(LOST);
    expect(result.stderr).toContain("[ERROR] No response from server for 0.5 s (1 of 1 message unacknowledged)\n");
  });

  test("never reads either: a client with megabytes to send still gives up, not hangs", async () => {
    const input = `${"x".repeat(99)}\n`;
    const result = await againstFake({ open: (socket) => socket.pause() }, ["--response-timeout", "0.5", "--quiet"], {
      stdin: input.repeat(200_000),
    });
    expect(result.exitCode).toBe(LOST);
    expect(result.stderr).toMatch(
      /^\[ERROR\] No response from server for 0\.5 s \(\d+ of \d+ messages unacknowledged\)\n$/,
    );
  });

  test.each([
    ["", []],
    [" (--reconnect: it retries)", ["--reconnect", "--reconnect-for", "1"]],
  ])(
    "never reads, then hangs up while megabytes of one line wait to be sent: the end is reported, not a hang%s",
    async (_, flags) => {
      // Nothing was owed (no line ended), so the end was put off a turn, while the sender waited for
      // room on the dead connection in a loop that never yielded: 100% CPU, deaf to signals, for ever.
      const result = await againstFake(
        {
          open(socket) {
            socket.pause();
            setTimeout(() => socket.end(), 500);
          },
        },
        ["--quiet", "--response-timeout", "5", ...flags],
        { stdin: "a".repeat(30_000_000), deadlineMs: 20_000 },
      );
      expect(result.exitCode).toBe(LOST);
      // Its unread input makes the fake's close a reset; either way, an end is reported.
      expect(result.stderr).toMatch(/^\[ERROR\] (Connection was reset by the server|Server closed the connection) \(/);
    },
  );

  test("raw framing, silent server: the same timeout", async () => {
    const result = await againstFake({}, ["--framing", "raw", "-m", "hello?", "--response-timeout", "0.5"]);
    expect(result.exitCode).toBe(LOST);
    expect(result.stderr).toContain("[ERROR] No response from server for 0.5 s");
  });
});

describe("the server answers garbage", () => {
  test("a line that is neither an ack nor a notice: exit 5, shown escaped", async () => {
    const result = await againstFake(
      { data: (socket) => void socket.write("HTTP/1.1 400 Bad Request\x1b]0;pwned\x07\r\n") },
      ["-m", "hi"],
    );
    expect(result.exitCode).toBe(LOST);
    expect(result.stderr).toContain(
      "[ERROR] Unexpected reply from server: 'HTTP/1.1 400 Bad Request\\x1b]0;pwned\\x07'",
    );
    expect(result.stderr).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f]/);
  });

  test.each([
    ["-m, the one-shot", ["-m", "a\nb"], undefined],
    ["piped", [], "a\nb\n"],
  ])(
    "a raw-framing server's ack of two lines, which starts like an ack (%s): no receipt printed, exit 5",
    async (_name, args, stdin) => {
      // `Message 'a` starts as an ack does and was printed and counted as one.
      await using server = await startServerProcess(["--quiet", "--framing", "raw"]);
      const result = await runClient(["--port", String(server.port), ...args], stdin === undefined ? {} : { stdin });
      expect(result.exitCode).toBe(LOST);
      expect(result.stdout).toBe("");
      expect(result.stderr).toContain(
        "[ERROR] Unexpected reply from server: 'Message 'a' (2 of 2 messages unacknowledged)",
      );
    },
  );

  test("a read of lines that each start like an ack but lack its end: none is a receipt, exit 5", async () => {
    // Large enough for the bulk check (WebAssembly), which looked only at each line's start and
    // took 2,000 such lines for 2,000 acks: exit 0.
    const result = await againstFake(
      {
        data: (socket, chunk) =>
          void socket.write("Message 'cut short\n".repeat(chunk.toString().split("\n").length - 1)),
      },
      ["--response-timeout", "5"],
      { stdin: Array.from({ length: 2000 }, (_, i) => `line ${i}\n`).join("") },
    );
    expect(result.exitCode).toBe(LOST);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("[ERROR] Unexpected reply from server: 'Message 'cut short'");
  });

  test("a notice with escape sequences is shown escaped", async () => {
    const result = await againstFake({ data: (socket) => void socket.end("ERROR \x1b[2Jgone\n") }, ["-m", "hi"]);
    expect(result.exitCode).toBe(LOST);
    expect(result.stderr).toContain("[ERROR] \\x1b[2Jgone (1 of 1 message unacknowledged)");
  });

  test("an ack nobody asked for: exit 5", async () => {
    const result = await againstFake(
      { open: (socket) => void socket.write("Message 'surprise' received successfully\n") },
      ["--response-timeout", "2"],
      { stdin: new Blob([]) },
    );
    // With no input nothing is owed, so an early ack may arrive after the client is done (exit 0),
    // but it must never be taken as an ack of a later message.
    expect([0, LOST]).toContain(result.exitCode);
    expect(result.stdout).toBe("");
  });

  test("an endless reply line without LF: stops at its limit instead of filling memory", async () => {
    const block = Buffer.alloc(1024 * 1024, "z");
    const result = await againstFake(
      {
        data(socket) {
          // 70 MiB of one line, more than the client's 64 MiB reply limit.
          let left = 70;
          const pump = () => {
            while (left > 0 && socket.write(block) === block.length) left--;
            if (left > 0) setTimeout(pump, 1);
          };
          pump();
        },
      },
      ["-m", "hi"],
      { deadlineMs: 30_000 },
    );
    expect(result.exitCode).toBe(LOST);
    expect(result.stderr).toContain(
      "[ERROR] Reply from server longer than 67108864 bytes (1 of 1 message unacknowledged)",
    );
  }, 40_000);
});

describe("a server that reads everything and never answers, with --json", () => {
  test("the messages kept for their acks stop at their limit: memory stays bounded, and the timeout ends the run", async () => {
    // Before, every message sent was kept for its ack with nothing to stop the sending: 1.5 GB
    // within two seconds, growing until the response timeout (a minute by default).
    const fake = startFakeServer({ data() {} });
    const lines = Bun.spawn(["seq", "1", "30000000"], { stdout: "pipe", stderr: "ignore" });
    const client = Bun.spawn(
      [...SOURCE_CLIENT, "--port", String(fake.port), "--json", "--quiet", "--response-timeout", "2"],
      { stdin: lines.stdout, stdout: "ignore", stderr: "pipe", env: CHILD_ENV },
    );
    try {
      let peakKiB = 0;
      while (client.exitCode === null && client.signalCode === null) {
        try {
          // A process that is exiting has no resident size to read (NaN).
          const { rss } = memoryKiB(client.pid);
          if (Number.isFinite(rss)) peakKiB = Math.max(peakKiB, rss);
        } catch {
          break; // Exited between the check and the read.
        }
        await Bun.sleep(50);
      }
      expect(await withDeadline(client.exited, DEADLINE_MS, "the client did not exit")).toBe(LOST);
      expect(await new Response(client.stderr).text()).toContain("[ERROR] No response from server for 2 s");
      expect(peakKiB).toBeLessThan(300 * 1024);
    } finally {
      client.kill("SIGKILL");
      lines.kill("SIGKILL");
      fake.stop();
    }
  });
});
