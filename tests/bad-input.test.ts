// Bad input (spec, "Protocol" and "server"): random bytes, invalid UTF-8, NUL, lone CR, very long
// lines, terminal escape sequences, half-closed sockets and resets. Nothing crashes or hangs,
// every message still gets exactly one ack, and the operator's terminal (the server's stdout)
// never receives a control character a client chose.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { seededRandom } from "../harness/random.ts";
import { eventually, type ServerProcess, startServerProcess, withDeadline } from "./helpers/processes.ts";
import { RawClient } from "./helpers/sockets.ts";
import { ack, decode, TERMINAL_CONTROLS, unescapeLogged } from "./helpers/spec.ts";

/** The hostile lines every test sends: each is one message (no LF inside). */
function hostileLines(): Uint8Array[] {
  const random = seededRandom(20261127);
  // Random bytes, heavy on ESC, CR and NUL; LF becomes VT so that each stays one line.
  const randomByte = () => random.pick([random.int(256), 0x1b, 0x0d, 0x00]);
  const randomLine = () =>
    Uint8Array.from({ length: 1 + random.int(200) }, randomByte).map((b) => (b === 0x0a ? 0x0b : b));
  const text = (value: string) => Buffer.from(value, "utf8");
  return [
    text("plain"),
    text("\x1b[2J\x1b[H\x1b]0;pwned\x07cleared your screen"),
    text("\x1b[31mred\x1b[0m and \x1bP+q\x1b\\ and bell\x07"),
    text("\u009b31m C1 CSI \u0085 NEL \u009d OSC"),
    text("bidi \u202eevil\u202c \u2066iso\u2069 \u2028sep"),
    text("nul \0 inside, tab \t, del \x7f, backspace \b"),
    text("lone CR \r in the middle"),
    text("\r"),
    text("back\\slash \\x1b literal"),
    Uint8Array.from([
      0x62, 0x61, 0x64, 0xff, 0xfe, 0xc3, 0x28, 0xe2, 0x82, 0x20, 0xed, 0xa0, 0x80, 0xc0, 0xaf, 0xf4, 0x90, 0x80, 0x80,
    ]),
    text(""),
    text("emoji 😀 and ñ"),
    ...Array.from({ length: 20 }, randomLine),
  ];
}

/** The message a line carries: a CR right before its LF is dropped. */
function messageOf(line: Uint8Array): string {
  const end = line.length > 0 && line[line.length - 1] === 0x0d ? line.length - 1 : line.length;
  return decode(line.subarray(0, end));
}

function joinLines(lines: Uint8Array[]): Buffer {
  return Buffer.concat(lines.flatMap((line) => [line, Uint8Array.of(0x0a)]));
}

/** The server's stdout lines for one peer, as `[peer] text` with the text unescaped. */
function loggedMessages(stdout: string, peer: string): string[] {
  const prefix = `[${peer}] `;
  return stdout
    .split("\n")
    .filter((line) => line.startsWith(prefix))
    .map((line) => unescapeLogged(line.slice(prefix.length)));
}

let server: ServerProcess;
beforeAll(async () => {
  server = await startServerProcess([]);
});
afterAll(async () => {
  expect(await server?.stop("SIGTERM")).toBe(0);
});

describe("hostile bytes", () => {
  test("each line gets its one ack; the server's terminal sees only escapes", async () => {
    const lines = hostileLines();
    const expected = lines.map(messageOf);
    const peer = await RawClient.connect(server.port);
    // Cut into awkward pieces so that no character or escape sequence arrives whole.
    const bytes = joinLines(lines);
    for (let i = 0; i < bytes.length; i += 7) {
      peer.write(bytes.subarray(i, i + 7));
      if (i % 70 === 0) await Bun.sleep(1);
    }
    await peer.until(() => peer.receivedLines >= lines.length);
    expect(peer.replies.lines).toEqual(expected.map(ack));

    const peerName = `127.0.0.1:${peer.localPort}`;
    await eventually(
      () => loggedMessages(server.stdout.text, peerName).length >= lines.length,
      5000,
      "messages logged",
    );
    expect(server.stdout.text).not.toMatch(TERMINAL_CONTROLS);
    expect(server.stderr.text).not.toMatch(TERMINAL_CONTROLS);
    expect(loggedMessages(server.stdout.text, peerName)).toEqual(expected);
    peer.end();
  });

  test("with --json, each message is a JSON string and raw control characters never reach stdout", async () => {
    const json = await startServerProcess(["--json"]);
    try {
      const lines = hostileLines();
      const peer = await RawClient.connect(json.port);
      peer.write(joinLines(lines));
      await peer.until(() => peer.receivedLines >= lines.length);
      await eventually(() => json.stdout.lines.length >= lines.length, 5000, "messages logged");
      expect(json.stdout.text).not.toMatch(TERMINAL_CONTROLS);
      const records = json.stdout.lines.map((line) => JSON.parse(line));
      expect(records.map((record) => record.message)).toEqual(lines.map(messageOf));
      peer.end();
    } finally {
      await json.stop();
    }
  });

  test("a 1 MiB line (the default limit) is acknowledged in full", async () => {
    const peer = await RawClient.connect(server.port);
    peer.keepReplies = false;
    const message = "x".repeat(1024 * 1024);
    peer.write(`${message}\r\n`);
    await peer.until(() => peer.receivedLines >= 1);
    expect(peer.receivedBytes).toBe(ack(message).length + 1);
    peer.end();
  });
});

describe("the end of a connection", () => {
  // FIN after a partial line: the partial line is a message (as `sed` and `awk` treat a last line
  // without LF), acknowledged before the server closes; a CR at its end is dropped.
  const cases: Array<[input: string, acks: string[]]> = [
    ["partial", ["partial"]],
    ["a\nb", ["a", "b"]],
    ["complete\n", ["complete"]],
    ["crlf cut\r", ["crlf cut"]],
    ["", []],
    ["\n", [""]],
    ["broken \xe2\x82", ["broken \ufffd"]],
  ];
  for (const [input, acks] of cases) {
    test(`FIN after ${JSON.stringify(input)}: ${acks.length} ack(s), then the server closes, every time`, async () => {
      const bytes = Buffer.from(input, "latin1");
      for (let round = 0; round < 5; round++) {
        const peer = await RawClient.connect(server.port);
        // Round 0 sends all at once; later rounds one byte per write.
        if (round === 0) peer.write(bytes);
        else for (const byte of bytes) peer.write(Uint8Array.of(byte));
        await peer.sent();
        peer.finishSending();
        expect(await withDeadline(peer.ending, 5000, "server did not close after FIN")).toMatch(/end|close/);
        expect({ round, lines: peer.replies.lines }).toEqual({ round, lines: acks.map((text) => ack(text)) });
      }
    });
  }

  test("RST mid-message: the partial line is dropped, the reset logged, others served", async () => {
    const peer = await RawClient.connect(server.port);
    peer.write("complete\n");
    await peer.waitFor(ack("complete"));
    peer.write("partial line that never ends");
    await peer.sent();
    await Bun.sleep(100);
    peer.terminate();
    const peerName = `127.0.0.1:${peer.localPort}`;
    await server.stderr.waitFor(`[${peerName}] Connection reset by client`);
    await server.stderr.waitFor(`[DISCONNECTED] ${peerName} disconnected`);
    expect(loggedMessages(server.stdout.text, peerName)).toEqual(["complete"]);

    const other = await RawClient.connect(server.port);
    other.write("next\n");
    await other.waitFor(ack("next"));
    other.end();
  });

  test("resets in every phase of a connection never crash the server", async () => {
    const random = seededRandom(7);
    for (let i = 0; i < 40; i++) {
      const peer = await RawClient.connect(server.port);
      const phase = i % 4;
      if (phase >= 1) peer.write("x".repeat(random.int(5000)));
      if (phase >= 2) peer.write("\nline\n".repeat(random.int(1000)));
      if (phase === 3) peer.finishSending();
      peer.terminate();
    }
    // Resets right after connecting, before the server has run its open handler for some.
    for (let burst = 0; burst < 10; burst++) {
      const peers = await Promise.all(Array.from({ length: 30 }, () => RawClient.connect(server.port)));
      for (const [i, peer] of peers.entries()) {
        if (i % 2) peer.write("said and gone\n");
        peer.terminate();
      }
      await Bun.sleep(20);
    }
    const survivor = await RawClient.connect(server.port);
    survivor.write("alive?\n");
    await survivor.waitFor(ack("alive?"));
    survivor.end();
    expect(server.proc.exitCode).toBeNull();
    expect(server.stderr.count(/\[ERROR\]/g)).toBe(0);
    // Every message line names its peer in full; only the server's own tagged lines on stderr.
    for (const line of server.stdout.lines) expect(line).toMatch(/^\[127\.0\.0\.1:\d+\] /);
    for (const line of server.stderr.lines)
      expect(line).toMatch(
        /^\[(STARTING|NEW CONNECTION|ACTIVE CONNECTIONS|DISCONNECTED|LIMIT|SHUTTING DOWN|CLOSED|127\.0\.0\.1:\d+)\] /,
      );
  });
});
