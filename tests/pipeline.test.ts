// The client and server as real processes, talking over loopback.
import { describe, expect, test } from "bun:test";
import {
  type Program,
  runClient,
  runProgram,
  SOURCE_CLIENT,
  serverForThisFile,
  startClientProcess,
  startServerProcess,
} from "./helpers/processes.ts";

const server = serverForThisFile(["--quiet"]);

describe("pipeline mode", () => {
  test("100,000 piped lines get 100,000 acks, in order, and exit 0", async () => {
    const count = 100_000;
    const input = `${Array.from({ length: count }, (_, i) => `${i + 1}`).join("\n")}\n`;
    const result = await runClient(["--port", String(server().port), "--quiet"], { stdin: input, deadlineMs: 60_000 });
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    const lines = result.stdout.split("\n");
    expect(lines.pop()).toBe("");
    expect(lines.length).toBe(count);
    for (let i = 0; i < count; i++) {
      if (lines[i] !== `Message '${i + 1}' received successfully`) {
        throw new Error(`ack ${i + 1} is wrong: ${lines[i]}`);
      }
    }
  });

  test("acks to a stdout that starts reading late arrive whole, byte for byte", async () => {
    // The client frees each read's memory as soon as it has handled it, so what waits for a full
    // pipe must be a copy: a reader that sleeps first gets every ack, in order, all the same.
    const count = 300_000;
    const input = `${Array.from({ length: count }, (_, i) => `late ${i + 1}`).join("\n")}\n`;
    const lateReader: Program = [
      "bash",
      "-c",
      'set -o pipefail; "$@" | (sleep 1; cat)',
      "late-reader",
      ...SOURCE_CLIENT,
    ];
    const result = await runProgram(lateReader, ["--port", String(server().port), "--quiet"], {
      stdin: input,
      deadlineMs: 60_000,
    });
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    const expected = Array.from({ length: count }, (_, i) => `Message 'late ${i + 1}' received successfully\n`).join(
      "",
    );
    expect(result.stdout.length).toBe(expected.length);
    expect(result.stdout === expected).toBe(true);
  });

  test("-m messages are sent in order; status goes to stderr, acks to stdout", async () => {
    const result = await runClient(["--port", String(server().port), "-m", "hi", "-m", "", "-m", "-5"]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe(
      "Message 'hi' received successfully\nMessage '' received successfully\nMessage '-5' received successfully\n",
    );
    expect(result.stderr.split("\n")).toEqual([
      `[CONNECTING] Connecting to server at 127.0.0.1:${server().port}...`,
      "[CONNECTED] Connected to server",
      "[DISCONNECTED] Disconnected from server",
      "",
    ]);
  });

  test("-m takes the next argument as the message, even -v or --help; -m=text works too", async () => {
    const result = await runClient(["--port", String(server().port), "--quiet", "-m", "-v", "-m", "--help", "-m=eq"]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe(
      "Message '-v' received successfully\nMessage '--help' received successfully\nMessage 'eq' received successfully\n",
    );
  });

  test("a last line without LF is still a message", async () => {
    const result = await runClient(["--port", String(server().port), "--quiet"], { stdin: "a\nb" });
    expect(result.stdout).toBe("Message 'a' received successfully\nMessage 'b' received successfully\n");
    expect(result.exitCode).toBe(0);
  });

  test("--json gives one object per ack with the message and round-trip time", async () => {
    const result = await runClient(["--port", String(server().port), "--json", "--quiet"], { stdin: "x\r\ny\n" });
    expect(result.exitCode).toBe(0);
    const records = result.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(records.map((r) => [r.message, r.response])).toEqual([
      ["x", "Message 'x' received successfully"],
      ["y", "Message 'y' received successfully"],
    ]);
    for (const record of records) expect(record.rtt_ms).toBeGreaterThanOrEqual(0);
  });
});

describe("client errors", () => {
  test("usage errors exit 2 with one plain line", async () => {
    const usage = [
      ["--port", "70000"],
      ["--nope"],
      ["--timeout", "soon"],
      ["--timeout", "3000000"],
      ["--framing", "xml"],
      ["-m"],
    ];
    for (const args of usage) {
      const result = await runClient(args);
      expect({ args, code: result.exitCode }).toEqual({ args, code: 2 });
      expect(result.stderr).not.toContain("    at ");
    }
  });
});

describe("a line not finished when the connection is dropped", () => {
  test("Ctrl+C (SIGTERM) while the input is mid-line: the server never sees the piece as a message", async () => {
    // A writer mid-line (`tail -f app.log | client` between two writes of one line). Sent at once
    // and followed by our FIN, the piece was taken by the server for a whole last line.
    await using server = await startServerProcess();
    const client = startClientProcess(["--port", String(server.port)]);
    try {
      client.send("whole\nhalf-a-li");
      await client.stdout.waitFor("Message 'whole' received successfully\n");
      await Bun.sleep(200);
      client.proc.kill("SIGTERM");
      expect(await client.exited()).toBe(130);
      await server.stderr.waitFor(/\[DISCONNECTED\]/);
      expect(server.stdout.text).toMatch(/\] whole\n$/);
    } finally {
      client.proc.kill("SIGKILL");
    }
  });

  test("at the end of input a last line without its LF is still sent, and acknowledged", async () => {
    const result = await runClient(["--port", String(server().port)], { stdin: "one\ntwo\nno line break" });
    expect(result.stdout).toBe(
      "Message 'one' received successfully\nMessage 'two' received successfully\nMessage 'no line break' received successfully\n",
    );
    expect(result.exitCode).toBe(0);
  });

  test("a line longer than what the client holds back still goes, in pieces, as one message", async () => {
    // 3 MiB in one line: past the 1 MiB held back, it streams; the server's limit is raised for it.
    await using big = await startServerProcess(["--quiet", "--max-message-bytes", "8m"]);
    const line = "y".repeat(3 * 1024 * 1024);
    const result = await runClient(["--port", String(big.port), "--quiet"], { stdin: `${line}\nafter\n` });
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toBe("");
  });
});

test("a line refused as too long while it is still being sent: the error says a line was cut off, not just '0 of 0'", async () => {
  // Its LF never went out (the input is still open), so it is no message in the counts.
  const client = startClientProcess(["--port", String(server().port), "--quiet"]);
  try {
    client.send("z".repeat(3 * 1024 * 1024));
    expect(await client.exited()).toBe(5);
    expect(client.stderr.text).toBe(
      "[ERROR] message too long (limit 1048576 bytes) (0 of 0 messages unacknowledged; a line was cut off before its end)\n",
    );
  } finally {
    client.proc.kill("SIGKILL");
  }
});
