// `client bench` as a user runs it, against our server as a real process.
import { describe, expect, test } from "bun:test";
import {
  CHILD_ENV,
  DEADLINE_MS,
  runClient,
  SOURCE_CLIENT,
  serverForThisFile,
  startServerProcess,
  withDeadline,
} from "./helpers/processes.ts";
import { freePort, unacceptingListener } from "./helpers/sockets.ts";

const server = serverForThisFile(["--quiet"]);

/**
 * Runs `client bench <args> --json --quiet`, sends it SIGINT after `afterMs`, and expects exit 130:
 * its report, and how long it took to stop after the signal.
 */
async function interruptedBench(args: string[], afterMs: number) {
  const proc = Bun.spawn([...SOURCE_CLIENT, "bench", ...args, "--json", "--quiet"], {
    stdout: "pipe",
    stderr: "pipe",
    env: CHILD_ENV,
  });
  try {
    await Bun.sleep(afterMs);
    const interruptedAt = performance.now();
    proc.kill("SIGINT");
    expect(await withDeadline(proc.exited, DEADLINE_MS, "bench did not stop")).toBe(130);
    const stoppedInMs = performance.now() - interruptedAt;
    return { report: JSON.parse(await new Response(proc.stdout).text()), stoppedInMs };
  } finally {
    proc.kill("SIGKILL");
  }
}

/** A server that acknowledges every line, `delayMs` after it came. */
function slowAckServer(delayMs: number) {
  return Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(socket, chunk) {
        const lines = chunk.toString().split("\n").length - 1;
        setTimeout(() => socket.write("Message 'ping' received successfully\n".repeat(lines)), delayMs);
      },
      error() {},
    },
  });
}

describe("client bench", () => {
  test("--requests N: exactly N messages acknowledged, pipelined over several connections, no errors", async () => {
    const args = ["bench", "--port", String(server().port), "-c", "7", "-P", "4", "-n", "5003", "--json", "--quiet"];
    const result = await runClient(args);
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({
      connections: 7,
      connected: 7,
      pipeline: 4,
      messages: 5003,
      errors: 0,
      errorKinds: {},
    });
    expect(report.latencyMs.p50).toBeGreaterThan(0);
    expect(report.latencyMs.p50).toBeLessThanOrEqual(report.latencyMs.p999);
  });

  test("the text summary draws the latency distribution as bars, plain when piped", async () => {
    const result = await runClient(["bench", "--port", String(server().port), "-c", "2", "-n", "500", "--quiet"]);
    expect(result.exitCode).toBe(0);
    const [, chart] = result.stdout.split("  latency distribution\n");
    const rows = chart!.trimEnd().split("\n");
    expect(rows.length).toBeGreaterThanOrEqual(10);
    for (const row of rows) expect(row).toMatch(/^ +>? *\d+\.\d{3} ms \[ *\d+\] \|#*$/);
    // Every reply is in exactly one row.
    const counted = rows.reduce((sum, row) => sum + Number(/\[ *(\d+)\]/.exec(row)![1]), 0);
    expect(counted).toBe(500);
    expect(result.stdout).not.toContain("\x1b[");
  });

  test("a timed run (-d) ends its connections cleanly: the server logs a disconnect for each, no reset", async () => {
    // Its own server, logging the connections (status lines on stderr; --quiet would hide them).
    await using logging = await startServerProcess(["--log-level", "info"]);
    const args = ["bench", "--port", String(logging.port), "-c", "8", "-P", "16", "-d", "0.5", "--quiet"];
    const result = await runClient(args);
    expect(result.exitCode).toBe(0);
    await logging.stderr.waitFor(/(\[DISCONNECTED\][\s\S]*){8}/);
    expect(logging.stderr.text).not.toContain("reset");
  });

  test("a refused connection is an error in the summary and exit 1", async () => {
    const result = await runClient(["bench", "--port", String(freePort()), "-c", "2", "-n", "10", "--quiet"]);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain("connections   0 of 2");
    expect(result.stdout).toContain("errors        2 (refused 2)");
  });

  test("-n N against a server that stops answering ends after --response-timeout, with errors", async () => {
    // Accepts and reads, never replies.
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const args = [
        "bench",
        "--port",
        String(silent.port),
        "-c",
        "2",
        "-n",
        "10",
        "--response-timeout",
        "1",
        "--json",
        "--quiet",
      ];
      const result = await runClient(args, { deadlineMs: 10_000 });
      expect(result.exitCode).toBe(1);
      expect(JSON.parse(result.stdout)).toMatchObject({ messages: 0, errors: 2, errorKinds: { "no-response": 2 } });
    } finally {
      silent.stop(true);
    }
  });

  test("one connection the server stops answering while it serves the others: an error after --response-timeout", async () => {
    // The run's silence check looked only at all replies together: exit 0, no error, and that
    // connection's batch waited the whole run.
    let connections = 0;
    const partial = Bun.listen<{ silent: boolean }>({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        open(socket) {
          socket.data = { silent: ++connections === 1 };
        },
        data(socket, chunk) {
          if (socket.data.silent) return;
          const lines = chunk.toString().split("\n").length - 1;
          socket.write("Message 'ping' received successfully\n".repeat(lines));
        },
        error() {},
      },
    });
    try {
      const args = ["bench", "--port", String(partial.port), "-c", "3", "-d", "2.5", "--response-timeout", "1"];
      const result = await runClient([...args, "--json", "--quiet"], { deadlineMs: 15_000 });
      expect(result.exitCode).toBe(1);
      const report = JSON.parse(result.stdout);
      expect(report).toMatchObject({ connected: 3, errors: 1, errorKinds: { "no-response": 1 } });
      expect(report.messages).toBeGreaterThan(100);
    } finally {
      partial.stop(true);
    }
  });

  test("Ctrl+C ends a run early with its summary so far, and exit 130 (it printed nothing)", async () => {
    const { report } = await interruptedBench(["--port", String(server().port), "-c", "4", "-d", "60"], 1500);
    expect(report.messages).toBeGreaterThan(0);
    expect(report.elapsedMs).toBeLessThan(10_000);
    expect(report.errors).toBe(0);
  });

  test("Ctrl+C while connections are still opening: only the ones that opened count as connected, and it ends at once", async () => {
    // Connections never attempted were counted as connected ("connections 3000 of 3000"), and
    // the run waited for the attempts under way to time out.
    const stuck = await unacceptingListener();
    try {
      const { report, stoppedInMs } = await interruptedBench(["--port", String(stuck.port), "-c", "3000"], 500);
      expect(stoppedInMs).toBeLessThan(3000);
      expect(report).toMatchObject({ connections: 3000, connected: 0 });
    } finally {
      await stuck.close();
    }
  });

  test("a server slower than the end's grace (2.5 s a reply) but inside --response-timeout: no error", async () => {
    // Its replies still on their way when the run ended were counted as no-response errors.
    const slow = slowAckServer(2500);
    try {
      const result = await runClient(["bench", "--port", String(slow.port), "-c", "2", "-d", "3", "--json", "--quiet"]);
      expect(result.exitCode).toBe(0);
      // Each connection's first reply came inside the run, its second after it (not counted).
      expect(JSON.parse(result.stdout)).toMatchObject({ connected: 2, errors: 0, messages: 2 });
    } finally {
      slow.stop(true);
    }
  });

  test("--response-timeout 0 (off): replies still owed at the end are no error, however slow the server", async () => {
    const slow = slowAckServer(2500);
    try {
      const args = ["bench", "--port", String(slow.port), "-c", "2", "-d", "1", "--response-timeout", "0"];
      const result = await runClient([...args, "--json", "--quiet"]);
      expect(result.exitCode).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ errors: 0 });
    } finally {
      slow.stop(true);
    }
  });

  test("Ctrl+C while the end of a run waits for a silent server: it stops at once, and nothing is held against the server", async () => {
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      // The run is over at 1 s; the end would wait up to the 10 s timeout for the replies.
      const { report, stoppedInMs } = await interruptedBench(
        ["--port", String(silent.port), "-c", "2", "-d", "1"],
        2500,
      );
      expect(stoppedInMs).toBeLessThan(2000);
      expect(report).toMatchObject({ errors: 0 });
    } finally {
      silent.stop(true);
    }
  });

  test("a server that never replies, in a run shorter than --response-timeout: every connection a no-response error", async () => {
    // Counted only once silent for the timeout, the end of a 1 s run never saw it: exit 0.
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const started = performance.now();
      const args = ["bench", "--port", String(silent.port), "-c", "2", "-d", "1", "--response-timeout", "3"];
      const result = await runClient([...args, "--json", "--quiet"]);
      expect(result.exitCode).toBe(1);
      expect(JSON.parse(result.stdout)).toMatchObject({ messages: 0, errors: 2, errorKinds: { "no-response": 2 } });
      // The end waits for the timeout from the last sign of life, not for ever.
      expect(performance.now() - started).toBeLessThan(8000);
    } finally {
      silent.stop(true);
    }
  });

  test.each([
    [["-P", "100000000"], "--pipeline must be at most 65536, got 100000000"],
    [["-P", "60000", "-m", "x".repeat(300)], "bytes in one write: at most 16777216"],
    [["--framing", "raw", "-m", ""], "--message must not be empty in raw framing"],
  ])("bench %p: a usage error, before anything is sent", async (flags, message) => {
    const result = await runClient(["bench", "--port", String(server().port), ...flags]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(message);
  });

  test("a server that turns connections away: its notice is said once, those are errors, not replies", async () => {
    await using full = await startServerProcess(["--quiet", "--max-connections", "1"]);
    const result = await runClient(["bench", "--port", String(full.port), "-c", "3", "-n", "50", "--json", "--quiet"]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe("[ERROR] server is full\n");
    // Known as notices (before, each counted as a reply and then as a connection "closed"), and
    // not as connected: the summary said "connections 3 of 3".
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ connected: 1, errors: 2, errorKinds: { notice: 2 } });
    // The admitted connection does all 50, also any a refused one had taken before its notice came.
    expect(report.messages).toBe(50);
  });

  describe("--send-proxy", () => {
    test("each connection starts with a v1 header naming its own two endpoints, as HAProxy's send-proxy", async () => {
      const firstLines: string[] = [];
      const expected: string[] = [];
      const recorder = Bun.listen<{ first?: string; rest: string }>({
        hostname: "127.0.0.1",
        port: 0,
        socket: {
          open(socket) {
            socket.data = { rest: "" };
            expected.push(`PROXY TCP4 127.0.0.1 127.0.0.1 ${socket.remotePort} ${socket.localPort}\r`);
          },
          data(socket, chunk) {
            const lines = (socket.data.rest + chunk.toString()).split("\n");
            socket.data.rest = lines.pop()!;
            for (const line of lines) {
              if (socket.data.first === undefined) {
                socket.data.first = line;
                firstLines.push(line);
              } else socket.write(`Message '${line}' received successfully\n`);
            }
          },
        },
      });
      try {
        const args = ["bench", "--port", String(recorder.port), "--send-proxy", "-c", "3", "-n", "30", "--quiet"];
        const result = await runClient(args);
        expect(result.exitCode).toBe(0);
        expect(firstLines.toSorted()).toEqual(expected.toSorted());
      } finally {
        recorder.stop(true);
      }
    });

    test("our server with --proxy-protocol serves it without an error; without it, every connection is refused", async () => {
      await using proxied = await startServerProcess(["--quiet", "--proxy-protocol"]);
      const port = String(proxied.port);
      const served = await runClient([
        "bench",
        "--port",
        port,
        "--send-proxy",
        "-c",
        "4",
        "-n",
        "400",
        "--json",
        "--quiet",
      ]);
      expect(served.exitCode).toBe(0);
      expect(JSON.parse(served.stdout)).toMatchObject({ messages: 400, errors: 0 });
      const refused = await runClient(["bench", "--port", port, "-c", "2", "-n", "10", "--json", "--quiet"]);
      expect(refused.exitCode).toBe(1);
      expect(JSON.parse(refused.stdout)).toMatchObject({ errors: 2 });
    });

    test.each<[string[]]>([[["--tls"]], [["--unix", "/tmp/none.sock"]]])(
      "with %p it is a usage error",
      async (flags) => {
        const result = await runClient(["bench", "--send-proxy", ...flags, "-n", "1"]);
        expect(result.exitCode).toBe(2);
        expect(result.stderr).toContain("--send-proxy is for plain TCP connections");
      },
    );
  });
});
