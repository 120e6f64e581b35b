// The pipeline's live progress line (like pv's): on stderr when stderr is a terminal, redrawn in
// place and erased at the end; below the acks when they go to the same terminal; never into a
// pipe, with --quiet or --json.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatElapsed, formatProgress } from "../src/client/progress.ts";
import { DEADLINE_MS, SOURCE_CLIENT, serverForThisFile, startClientProcess } from "./helpers/processes.ts";
import { acknowledge, scriptedServer } from "./helpers/sockets.ts";
import { ack } from "./helpers/spec.ts";
import { renderScreen, TerminalSession } from "./helpers/terminal.ts";

const server = serverForThisFile(["--quiet"]);
const PROGRESS = /\r\[PROGRESS\] \d+:\d\d {2}[\d,]+ sent {2}[\d,]+ acknowledged {2}[\d,]+\/s\x1b\[K/g;

describe("the progress line's text", () => {
  test.each([
    [{ sent: 0, acknowledged: 0 }, 0, 0, "[PROGRESS] 0:00  0 sent  0 acknowledged  0/s"],
    [
      { sent: 120_000, acknowledged: 119_500 },
      7_300,
      48_210.4,
      "[PROGRESS] 0:07  120,000 sent  119,500 acknowledged  48,210/s",
    ],
    [{ sent: 5, acknowledged: 5 }, 3_725_000, 0.4, "[PROGRESS] 1:02:05  5 sent  5 acknowledged  0/s"],
  ])("%o after %d ms at %d/s", (counts, elapsedMs, rate, text) => {
    expect(formatProgress(counts, elapsedMs, rate)).toBe(text);
  });

  test.each([
    [59_999, "0:59"],
    [600_000, "10:00"],
    [36_000_000, "10:00:00"],
  ])("%d ms is %s", (ms, text) => expect(formatElapsed(ms)).toBe(text));
});

/**
 * Runs the client with stderr on a terminal, stdin from a pipe that `input` (shell commands) writes
 * to (by default one line, then after a pause another, so the run lasts well past the first
 * redraw), and stdout into a file (or onto the terminal, with stdoutToTerminal). Returns all the
 * terminal got, the screen at the end, and stdout.
 */
async function clientWithStderrOnTerminal(
  args: string[],
  {
    stdoutToTerminal = false,
    port = server().port,
    input = "echo first; sleep 1.5; echo second",
    resizeTo = undefined as number | undefined,
  } = {},
) {
  const folder = mkdtempSync(join(tmpdir(), "progress-"));
  const stdoutFile = join(folder, "stdout");
  const script = `(${input}) | exec "$@" ${stdoutToTerminal ? "" : `> '${stdoutFile}'`}`;
  const session = TerminalSession.start(
    ["sh", "-c", script, "sh", ...SOURCE_CLIENT],
    ["--port", String(port), ...args],
  );
  try {
    // resizeTo: the window is made that many columns wide once the line has been drawn.
    let resizedAt = -1;
    if (resizeTo !== undefined) {
      await session.output.waitFor(() => session.output.text.includes("[PROGRESS]"), DEADLINE_MS);
      session.proc.terminal!.resize(resizeTo, 50);
      resizedAt = session.output.text.length;
    }
    const exitCode = await session.exited();
    const stdout = stdoutToTerminal ? "" : readFileSync(stdoutFile, "utf8");
    return { exitCode, terminal: session.output.text, screen: session.screen, stdout, resizedAt };
  } finally {
    await session.close();
    rmSync(folder, { recursive: true, force: true });
  }
}

const bothAcks = `${ack("first")}\n${ack("second")}\n`;

describe("on a terminal", () => {
  test("stderr on a terminal, stdout into a file: a live line, redrawn in place, erased at the end", async () => {
    const run = await clientWithStderrOnTerminal([]);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toBe(bothAcks);
    const draws = run.terminal.match(PROGRESS) ?? [];
    // Redrawn (ten times a second, over a run of 1.5 s or more), never as lines of its own.
    expect(draws.length).toBeGreaterThan(1);
    expect(run.terminal).toContain("[PROGRESS] ");
    expect(draws.some((draw) => draw.includes("  1 sent  1 acknowledged"))).toBe(true);
    // While it ran, the screen held one progress line, in place, below the status lines.
    const midRun = run.terminal.slice(0, run.terminal.lastIndexOf(draws.at(-1)!) + draws.at(-1)!.length);
    expect(renderScreen(midRun).lines.filter((line) => line.startsWith("[PROGRESS]")).length).toBe(1);
    // At the end it is gone, and the last lines are whole.
    expect(run.screen.some((line) => line.includes("[PROGRESS]"))).toBe(false);
    expect(run.screen.slice(-2)).toEqual([
      "[CONNECTED] Connected to server",
      "[DISCONNECTED] Disconnected from server",
    ]);
  });

  test("a window made narrower mid-run: the line is cut to fit it from the next redraw", async () => {
    const run = await clientWithStderrOnTerminal([], { resizeTo: 30 });
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toBe(bothAcks);
    const draws = [...run.terminal.matchAll(/\r(\[PROGRESS\][^\r\x1b]*)\x1b\[K/g)];
    const before = draws.filter((draw) => draw.index < run.resizedAt).map((draw) => draw[1]!);
    const after = draws.filter((draw) => draw.index > run.resizedAt).map((draw) => draw[1]!);
    // Whole in 250 columns; in 30, one less than the width (a full last column would wrap).
    expect(before.length).toBeGreaterThan(0);
    expect(before.every((text) => text.length > 30 && text.endsWith("/s"))).toBe(true);
    // (A redraw already under way when the window changed may still come whole, once.)
    const narrow = after.findIndex((text) => text.length === 29);
    expect(narrow).toBeGreaterThan(-1);
    expect(narrow).toBeLessThan(2);
    expect(after.slice(narrow).length).toBeGreaterThan(1);
    expect(after.slice(narrow).every((text) => /^\[PROGRESS\] \d:\d\d {2}\d sent {2}\d ac$/.test(text))).toBe(true);
  });

  test("a status line while it shows ([RECONNECTING]) takes its place, whole, on a line of its own", async () => {
    // The first connection acknowledges 'first' and closes; 'second' comes later, over a new one.
    const fake = scriptedServer([
      (socket, line) => {
        acknowledge(socket, line);
        socket.end();
      },
      acknowledge,
    ]);
    try {
      const run = await clientWithStderrOnTerminal(["--reconnect"], { port: fake.port });
      expect(run.exitCode).toBe(0);
      expect(run.stdout).toBe(bothAcks);
      const firstDraw = run.terminal.search(PROGRESS);
      expect(firstDraw).toBeGreaterThan(-1);
      expect(firstDraw).toBeLessThan(run.terminal.indexOf("[RECONNECTING]"));
      expect(run.screen.slice(1)).toEqual([
        "[CONNECTED] Connected to server",
        expect.stringMatching(
          /^\[RECONNECTING\] Server closed the connection; retrying in \d+ ms \(1 unacknowledged\)$/,
        ),
        "[CONNECTED] Connected to server",
        "[DISCONNECTED] Disconnected from server",
      ]);
    } finally {
      fake.stop();
    }
  });

  test("erased at the end even when no status line follows it (--log-level error)", async () => {
    const run = await clientWithStderrOnTerminal(["--log-level", "error"]);
    expect(run.exitCode).toBe(0);
    expect((run.terminal.match(PROGRESS) ?? []).length).toBeGreaterThan(1);
    expect(run.screen).toEqual([]);
  });

  test.each([
    ["--quiet", ["--quiet"]],
    ["--json", ["--json"]],
  ])("not with %s", async (_, args) => {
    const run = await clientWithStderrOnTerminal(args);
    expect(run.exitCode).toBe(0);
    expect(run.terminal).not.toContain("[PROGRESS]");
    expect(run.terminal).not.toContain("\x1b[K");
  });
});

describe("stdout and stderr on one terminal (`client < big.txt`)", () => {
  /** The screen a whole run leaves: the status lines, every ack once and in order, no progress line. */
  const finalScreen = (acks: string[]) => [
    expect.stringMatching(/^\[CONNECTING\] Connecting to server at /),
    "[CONNECTED] Connected to server",
    ...acks.map(ack),
    "[DISCONNECTED] Disconnected from server",
  ];

  test("acks scroll by above the live line, each whole; the line is erased at the end", async () => {
    // A message every 0.1 s: redraws and ack batches take turns for 1.5 s and more.
    const messages = Array.from({ length: 15 }, (_, i) => `message-${i + 1}`);
    const run = await clientWithStderrOnTerminal([], {
      stdoutToTerminal: true,
      input: `for m in ${messages.join(" ")}; do echo $m; sleep 0.1; done`,
    });
    expect(run.exitCode).toBe(0);
    expect(run.screen).toEqual(finalScreen(messages));
    const draws = [...run.terminal.matchAll(PROGRESS)];
    expect(draws.length).toBeGreaterThan(1);
    // Drawn while the acks stream: some after the first ack, before the last.
    const between = draws.filter(
      (draw) =>
        draw.index > run.terminal.indexOf(ack(messages[0]!)) && draw.index < run.terminal.indexOf(ack(messages[14]!)),
    );
    expect(between.length).toBeGreaterThan(0);
    // Whenever drawn, it is the one progress line, and the last line: below every ack so far.
    for (const draw of draws) {
      const { lines } = renderScreen(run.terminal.slice(0, draw.index + draw[0].length));
      expect(lines.filter((line) => line.includes("[PROGRESS]"))).toEqual([lines.at(-1)!]);
    }
  });

  test("a redraw between bursts of thousands of acks tears none of them", async () => {
    // The pause between the bursts leaves the line drawn when the second burst's acks come.
    const messages = Array.from({ length: 40_000 }, (_, i) => `m${i + 1}`);
    const run = await clientWithStderrOnTerminal([], {
      stdoutToTerminal: true,
      input: "seq -f m%g 1 20000; sleep 0.3; seq -f m%g 20001 40000",
    });
    expect(run.exitCode).toBe(0);
    const [endOfFirst, startOfSecond] = [ack("m20000"), ack("m20001")].map((text) => run.terminal.indexOf(text));
    const draws = [...run.terminal.matchAll(PROGRESS)];
    expect(draws.some((draw) => draw.index > endOfFirst! && draw.index < startOfSecond!)).toBe(true);
    expect(run.screen).toEqual(finalScreen(messages));
  });

  test.each([
    ["--quiet", ["--quiet"]],
    ["--json", ["--json"]],
  ])("not with %s", async (_, args) => {
    const run = await clientWithStderrOnTerminal(args, { stdoutToTerminal: true });
    expect(run.exitCode).toBe(0);
    expect(run.terminal).toContain("second");
    expect(run.terminal).not.toContain("[PROGRESS]");
    expect(run.terminal).not.toContain("\x1b[K");
  });
});

test("stderr into a pipe: no progress line, no carriage returns or erase sequences", async () => {
  const client = startClientProcess(["--port", String(server().port)]);
  try {
    client.send("first\n");
    await client.stdout.waitForLines(1);
    await Bun.sleep(500); // Five redraws' time, had there been a terminal.
    client.send("second\n");
    client.endInput();
    expect(await client.exited()).toBe(0);
    expect(client.stdout.text).toBe(bothAcks);
    expect(client.stderr.text).not.toContain("[PROGRESS]");
    expect(client.stderr.text).not.toMatch(/[\r\x1b]/);
  } finally {
    client.proc.kill("SIGKILL");
  }
});
