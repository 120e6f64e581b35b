// Interop: the tutorial's own Python programs (unmodified, from seed/) against ours in raw
// framing, and the usual tools (nc, socat) as clients of our server in line framing.
// The tutorial's programs hard-code 127.0.0.1:12345, so two tests need that port; bun test runs the
// tests of a file one after another, so they never hold it at the same time.
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  CHILD_ENV,
  DEADLINE_MS,
  runClient,
  runProgram,
  SEED,
  SOURCE_CLIENT,
  startServerProcess,
  TextCollector,
  withDeadline,
} from "./helpers/processes.ts";
import { listenProblem } from "./helpers/sockets.ts";
import { ack, PROMPT } from "./helpers/spec.ts";
import { KEYS, TerminalSession } from "./helpers/terminal.ts";

const TUTORIAL_PORT = 12345;

/** Why the tutorial's port cannot be used here, or undefined if it is free now. */
function tutorialPortBusy(): string | undefined {
  const problem = listenProblem("127.0.0.1", TUTORIAL_PORT);
  return problem && `the port is hard-coded in the tutorial's programs, and ${problem}`;
}

/** The tutorial's programs sit beside the repository (../shared/seed); a clone elsewhere has none. */
function seedMissing(): string | undefined {
  const missing = ["client.py", "server.py"].filter((file) => !existsSync(join(SEED, file)));
  return missing.length === 0 ? undefined : `the tutorial's ${missing.join(" and ")} not found in ${SEED}`;
}

function toolMissing(tool: string): string | undefined {
  return Bun.which(tool) ? undefined : `${tool} is not installed`;
}

/** Skips a test, saying why on stderr (bun test itself shows no reason). */
function testUnless(reason: string | undefined, name: string, fn: () => Promise<void>) {
  if (reason) console.warn(`skipping "${name}": ${reason}`);
  test.skipIf(reason !== undefined)(name, fn);
}

/**
 * A test on the tutorial's port: skipped when the port is busy as the file loads, and given up
 * (with the reason on stderr) when something else took it since, such as another test run.
 */
function testOnTutorialPort(name: string, fn: () => Promise<void>) {
  testUnless(seedMissing() ?? toolMissing("python3") ?? tutorialPortBusy(), name, async () => {
    const busy = tutorialPortBusy();
    if (busy) return console.warn(`giving up "${name}": ${busy}`);
    await fn();
  });
}

describe("the tutorial's Python programs, unmodified", () => {
  testOnTutorialPort("the tutorial's client.py gets its responses from our server (--framing raw)", async () => {
    await using server = await startServerProcess(["--framing", "raw", "--port", String(TUTORIAL_PORT)]);
    const result = await runProgram(["python3", join(SEED, "client.py")], [], {
      stdin: "Hello from the tutorial\nsecond message\nquit\n",
    });
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toBe("");
    // input() prints its prompt and reads a line from the pipe; the typed text is not echoed.
    expect(result.stdout.split("\n")).toEqual([
      `[CONNECTING] Connecting to server at 127.0.0.1:${TUTORIAL_PORT}...`,
      "[CONNECTED] Connected to server",
      "",
      `Enter message (or 'quit' to exit): [RESPONSE] ${ack("Hello from the tutorial")}`,
      "",
      `Enter message (or 'quit' to exit): [RESPONSE] ${ack("second message")}`,
      "",
      "Enter message (or 'quit' to exit): [CLOSING] Closing connection by request...",
      "[DISCONNECTED] Disconnected from server",
      "",
    ]);
    await server.stderr.waitFor("[DISCONNECTED]");
    expect(await server.stop()).toBe(0);
    expect(server.stdout.lines.map((line) => line.replace(/^\[127\.0\.0\.1:\d+\] /, ""))).toEqual([
      "Hello from the tutorial",
      "second message",
    ]);
  });

  testOnTutorialPort(
    "our client (--framing raw) against the tutorial's server.py: -m, a pipe, a terminal session",
    async () => {
      // -u: unbuffered output, so the STARTING line shows when the server is ready (the program is unchanged).
      const python = Bun.spawn(["python3", "-u", join(SEED, "server.py")], {
        stdout: "pipe",
        stderr: "pipe",
        env: CHILD_ENV,
      });
      const output = new TextCollector(python.stdout);
      try {
        await output.waitFor(`[STARTING] Server is listening on 127.0.0.1:${TUTORIAL_PORT}`);
        const messages = await runClient(["--framing", "raw", "-m", "Hello", "-m", "from our client"]);
        expect(messages.stdout).toBe(`${ack("Hello")}\n${ack("from our client")}\n`);
        expect(messages.exitCode).toBe(0);
        const piped = await runClient(["--framing", "raw", "--quiet"], { stdin: "piped one\npiped two\n" });
        expect(piped.stdout).toBe(`${ack("piped one")}\n${ack("piped two")}\n`);
        expect(piped.exitCode).toBe(0);

        // And the tutorial's own session: our interactive client in a terminal.
        const session = TerminalSession.start(SOURCE_CLIENT, ["--framing", "raw"]);
        try {
          await session.waitForPrompt(PROMPT, 1);
          session.type(`Hello from a terminal${KEYS.enter}`);
          await session.waitForPrompt(PROMPT, 2);
          session.type(`quit${KEYS.enter}`);
          expect(await session.exited()).toBe(0);
          expect(session.screen).toEqual([
            `[CONNECTING] Connecting to server at 127.0.0.1:${TUTORIAL_PORT}...`,
            "[CONNECTED] Connected to server",
            "",
            `${PROMPT}Hello from a terminal`,
            `[RESPONSE] ${ack("Hello from a terminal")}`,
            "",
            `${PROMPT}quit`,
            "[CLOSING] Closing connection by request...",
            "[DISCONNECTED] Disconnected from server",
          ]);
        } finally {
          await session.close();
        }

        // Three clients came and went.
        await output.waitFor((text) => text.split("[DISCONNECTED]").length > 3);
        for (const message of ["Hello", "from our client", "piped one", "piped two", "Hello from a terminal"]) {
          expect(output.text).toMatch(new RegExp(`\\[\\('127\\.0\\.0\\.1', \\d+\\)\\] ${message}\n`));
        }
      } finally {
        python.kill("SIGINT");
        await withDeadline(python.exited, DEADLINE_MS, "the tutorial's server did not exit").catch(() =>
          python.kill("SIGKILL"),
        );
      }
    },
  );
});

describe("nc and socat as clients (line framing)", () => {
  testUnless(toolMissing("nc"), "nc -N: every line acknowledged, a last line without LF too", async () => {
    await using server = await startServerProcess([]);
    const result = await runProgram(["nc", "-N", "127.0.0.1", String(server.port)], [], { stdin: "one\ntwo\r\nthree" });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe(`${ack("one")}\n${ack("two")}\n${ack("three")}\n`);
  });

  testUnless(toolMissing("socat"), "socat: every line acknowledged, in order", async () => {
    await using server = await startServerProcess([]);
    const lines = Array.from({ length: 1000 }, (_, i) => `line ${i}`);
    // -t: after its input ends, socat waits this long for the replies (the server closes sooner).
    const result = await runProgram(["socat", "-t", "5", "-", `TCP:127.0.0.1:${server.port}`], [], {
      stdin: `${lines.join("\n")}\n`,
    });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe(lines.map((line) => `${ack(line)}\n`).join(""));
  });
});
