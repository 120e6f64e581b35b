// The tutorial's session, line for line, under real pseudo-terminals: the server in one terminal,
// clients in others, keys typed as a person would (Enter, Ctrl+C, Ctrl+D, arrows), and the screens
// compared with what the tutorial shows.
import { afterEach, describe, expect, test } from "bun:test";
import { type ServerProcess, SOURCE_CLIENT, SOURCE_SERVER, startServerProcess } from "./helpers/processes.ts";
import { freePort, unacceptingListener } from "./helpers/sockets.ts";
import { ack, PROMPT } from "./helpers/spec.ts";
import { KEYS, TerminalSession } from "./helpers/terminal.ts";

const sessions: TerminalSession[] = [];
const servers: ServerProcess[] = [];

afterEach(async () => {
  await Promise.all(sessions.splice(0).map((session) => session.close()));
  for (const server of servers.splice(0)) {
    if (server.proc.exitCode === null) server.proc.kill("SIGKILL");
    await server.proc.exited;
  }
});

function inTerminal(program: string[], args: string[]): TerminalSession {
  const session = TerminalSession.start(program, args);
  sessions.push(session);
  return session;
}

function client(port: number, args: string[] = []): TerminalSession {
  return inTerminal(SOURCE_CLIENT, ["--port", String(port), ...args]);
}

const waitForPrompt = (session: TerminalSession, count: number) => session.waitForPrompt(PROMPT, count);

/** A server process for the client tests; its stdout shows what it received. */
async function serverProcess(): Promise<ServerProcess> {
  const server = await startServerProcess();
  servers.push(server);
  return server;
}

describe("the tutorial's session", () => {
  test("two clients, messages from both, quit, then Ctrl+C on the server", async () => {
    const server = inTerminal(SOURCE_SERVER, ["--port", "0"]);
    await server.waitForScreen((lines) => /^\[STARTING\] .*:\d+$/.test(lines[0] ?? ""), "the STARTING line");
    const port = Number(/:(\d+)$/.exec(server.screen[0]!)![1]);

    const first = client(port);
    await waitForPrompt(first, 1);
    await server.waitForLine("[ACTIVE CONNECTIONS] 1");
    const second = client(port);
    await waitForPrompt(second, 1);
    await server.waitForLine("[ACTIVE CONNECTIONS] 2");
    const [firstPeer, secondPeer] = server.screen
      .filter((line) => line.startsWith("[NEW CONNECTION]"))
      .map((line) => /\] (\S+) connected\.$/.exec(line)![1]!);

    first.type(`Hello from client 1${KEYS.enter}`);
    await waitForPrompt(first, 2);
    second.type(`Hello from client 2${KEYS.enter}`);
    await waitForPrompt(second, 2);
    await server.waitForLine(`[${secondPeer}] Hello from client 2`);

    first.type(`quit${KEYS.enter}`);
    expect(await first.exited()).toBe(0);
    await server.waitForLine(`[DISCONNECTED] ${firstPeer} disconnected`);
    second.type(`quit${KEYS.enter}`);
    expect(await second.exited()).toBe(0);
    await server.waitForLine(`[DISCONNECTED] ${secondPeer} disconnected`);
    server.type(KEYS.ctrlC);
    expect(await server.exited()).toBe(0);

    expect(server.screen).toEqual([
      `[STARTING] Server is listening on 127.0.0.1:${port}`,
      `[NEW CONNECTION] ${firstPeer} connected.`,
      "[ACTIVE CONNECTIONS] 1",
      `[NEW CONNECTION] ${secondPeer} connected.`,
      "[ACTIVE CONNECTIONS] 2",
      `[${firstPeer}] Hello from client 1`,
      `[${secondPeer}] Hello from client 2`,
      `[DISCONNECTED] ${firstPeer} disconnected`,
      `[DISCONNECTED] ${secondPeer} disconnected`,
      // The terminal echoes Ctrl+C as ^C; the server starts its own line after it.
      "^C",
      "[SHUTTING DOWN] Server is shutting down...",
      "[CLOSED] Server socket closed",
    ]);
    for (const [session, n] of [
      [first, 1],
      [second, 2],
    ] as const) {
      expect(session.screen).toEqual([
        `[CONNECTING] Connecting to server at 127.0.0.1:${port}...`,
        "[CONNECTED] Connected to server",
        "",
        `${PROMPT}Hello from client ${n}`,
        `[RESPONSE] ${ack(`Hello from client ${n}`)}`,
        "",
        `${PROMPT}quit`,
        "[CLOSING] Closing connection by request...",
        "[DISCONNECTED] Disconnected from server",
      ]);
    }
  });

  test("a client with no server: CONNECTING, REFUSED, DISCONNECTED; exit 3", async () => {
    const port = freePort();
    const session = client(port);
    expect(await session.exited()).toBe(3);
    expect(session.screen).toEqual([
      `[CONNECTING] Connecting to server at 127.0.0.1:${port}...`,
      "[REFUSED] Connection refused. Make sure the server is running.",
      "[DISCONNECTED] Disconnected from server",
    ]);
  });
});

describe("interactive client", () => {
  test("Ctrl+C while still connecting: ^C, [INTERRUPT], [DISCONNECTED], as the tutorial shows it", async () => {
    const stuck = await unacceptingListener();
    try {
      const session = client(stuck.port, ["--timeout", "30"]);
      await session.waitForLine(`[CONNECTING] Connecting to server at 127.0.0.1:${stuck.port}...`);
      session.type(KEYS.ctrlC);
      expect(await session.exited()).toBe(0);
      expect(session.screen).toEqual([
        `[CONNECTING] Connecting to server at 127.0.0.1:${stuck.port}...`,
        // The terminal echoes Ctrl+C (no line editing yet); the client starts its own line after it.
        "^C",
        "[INTERRUPT] Client shutting down...",
        "[DISCONNECTED] Disconnected from server",
      ]);
    } finally {
      await stuck.close();
    }
  });

  test("quit in any case closes by request; it is not sent", async () => {
    const server = await serverProcess();
    const session = client(server.port);
    await waitForPrompt(session, 1);
    session.type(`QuIt${KEYS.enter}`);
    expect(await session.exited()).toBe(0);
    expect(session.screen.slice(-3)).toEqual([
      `${PROMPT}QuIt`,
      "[CLOSING] Closing connection by request...",
      "[DISCONNECTED] Disconnected from server",
    ]);
    await server.stderr.waitFor("[DISCONNECTED]");
    expect(await server.stop()).toBe(0);
    expect(server.stdout.text).toBe("");
  });

  test("empty input re-prompts and sends nothing", async () => {
    const server = await serverProcess();
    const session = client(server.port);
    await waitForPrompt(session, 1);
    session.type(KEYS.enter);
    await waitForPrompt(session, 2);
    session.type(KEYS.enter);
    await waitForPrompt(session, 3);
    session.type(`after${KEYS.enter}`);
    await waitForPrompt(session, 4);
    expect(session.screen.slice(2)).toEqual([
      "",
      PROMPT,
      "",
      PROMPT,
      "",
      `${PROMPT}after`,
      `[RESPONSE] ${ack("after")}`,
      "",
      PROMPT,
    ]);
    session.type(`quit${KEYS.enter}`);
    expect(await session.exited()).toBe(0);
    await server.stderr.waitFor("[DISCONNECTED]");
    expect(await server.stop()).toBe(0);
    // The server logged exactly one message: the empty lines were never sent.
    expect(server.stdout.lines).toEqual([expect.stringMatching(/^\[127\.0\.0\.1:\d+\] after$/)]);
  });

  const keysAtPrompt: Array<[name: string, key: string, saying: string]> = [
    ["Ctrl+C at the prompt interrupts", KEYS.ctrlC, "[INTERRUPT] Client shutting down..."],
    ["Ctrl+D at the prompt acts as quit", KEYS.ctrlD, "[CLOSING] Closing connection by request..."],
  ];
  for (const [name, key, saying] of keysAtPrompt) {
    test(`${name}: ${saying}, exit 0`, async () => {
      const server = await serverProcess();
      const session = client(server.port);
      await waitForPrompt(session, 1);
      session.type(key);
      expect(await session.exited()).toBe(0);
      expect(session.screen.slice(-3)).toEqual([PROMPT, saying, "[DISCONNECTED] Disconnected from server"]);
    });
  }

  test("line editing: abc, Left, Left, Backspace, X, Enter sends Xbc; Up recalls it", async () => {
    const server = await serverProcess();
    const session = client(server.port);
    await waitForPrompt(session, 1);
    // One key at a time, each once the screen shows it handled, as a person types. (Keys that
    // arrive in one read, as in a paste, are echoed differently: Bun's readline writes all but
    // the last without redrawing the rest of the line.)
    const keys: Array<[key: string, line: string, cursor: number]> = [
      ["a", "a", 1],
      ["b", "ab", 2],
      ["c", "abc", 3],
      [KEYS.left, "abc", 2],
      [KEYS.left, "abc", 1],
      [KEYS.backspace, "bc", 0],
      ["X", "Xbc", 1],
    ];
    for (const [key, line, cursor] of keys) {
      session.type(key);
      await session.waitForScreen(
        (lines, at) => lines.at(-1) === PROMPT + line && at.col === PROMPT.length + cursor,
        `${JSON.stringify(line)} with the cursor at ${cursor}`,
      );
    }
    session.type(KEYS.enter);
    await waitForPrompt(session, 2);
    session.type(`\x1b[A${KEYS.enter}`);
    await waitForPrompt(session, 3);
    expect(session.screen.slice(3, 8)).toEqual([
      `${PROMPT}Xbc`,
      `[RESPONSE] ${ack("Xbc")}`,
      "",
      `${PROMPT}Xbc`,
      `[RESPONSE] ${ack("Xbc")}`,
    ]);
    session.type(`quit${KEYS.enter}`);
    expect(await session.exited()).toBe(0);
    await server.stderr.waitFor("[DISCONNECTED]");
    expect(await server.stop()).toBe(0);
    expect(server.stdout.lines.map((line) => line.replace(/^\[[^\]]+\] /, ""))).toEqual(["Xbc", "Xbc"]);
  });

  test("the server shutting down while the client sits at the prompt: [ERROR] server shutting down, exit 5", async () => {
    const server = await serverProcess();
    const session = client(server.port);
    await waitForPrompt(session, 1);
    session.type(`one${KEYS.enter}`);
    await waitForPrompt(session, 2);
    expect(await server.stop("SIGINT")).toBe(0);
    expect(await session.exited()).toBe(5);
    expect(session.screen.slice(-4)).toEqual([
      "",
      PROMPT,
      "[ERROR] server shutting down (0 of 1 message unacknowledged)",
      "[DISCONNECTED] Disconnected from server",
    ]);
  });
});
