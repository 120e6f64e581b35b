// The one-shot (`client -m TEXT` into a pipe) is its own small program (src/client/one-shot.ts says
// why). These tests hold it to the whole program: each runs the same command line both ways, the
// second with `--framing line` added (the default, so the same run, but a flag the one-shot does
// not take), against the same server or server fault, and compares stdout (as bytes), stderr and
// the exit code.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Socket } from "bun";
import { oneShotPlan } from "../src/client/one-shot.ts";
import {
  CHILD_ENV,
  DEADLINE_MS,
  type Program,
  type ServerProcess,
  SOURCE_CLIENT,
  SOURCE_SERVER,
  startServerProcess,
  TextCollector,
} from "./helpers/processes.ts";
import { unacceptingListener } from "./helpers/sockets.ts";

interface Run {
  exitCode: number;
  stdout: string;
  stderr: string;
}

async function run(args: string[], program: Program = SOURCE_CLIENT): Promise<Run> {
  const proc = Bun.spawn([...program, ...args], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: CHILD_ENV,
  });
  const deadline = setTimeout(() => proc.kill("SIGKILL"), DEADLINE_MS);
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(proc.stdout).bytes(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  clearTimeout(deadline);
  return { exitCode, stdout: Buffer.from(stdout).toString("hex"), stderr };
}

/** Runs `args` as a one-shot and through the whole program; expects the same; returns it. */
async function bothWays(args: string[], program: Program = SOURCE_CLIENT): Promise<Run> {
  expect(oneShotPlan(args, pipes)).toBeDefined();
  const whole = [...args, "--framing", "line"];
  expect(oneShotPlan(whole, pipes)).toBeUndefined();
  const [oneShot, wholeProgram] = await Promise.all([run(args, program), run(whole, program)]);
  expect(oneShot).toEqual(wholeProgram);
  return oneShot;
}

/** What the spawned clients have: stdout and stderr are pipes. */
const pipes = () => false;

const hex = (text: string | Uint8Array) => Buffer.from(text).toString("hex");

/** A server that answers every connection's first read with `answer`. */
function scripted(answer: (socket: Socket<undefined>, chunk: Buffer) => void) {
  return Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data: answer } });
}

describe("a one-shot does what the whole program does", () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServerProcess([]);
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  test("against the server: one message, several, --quiet, an empty one, one with a line break, long ones, many", async () => {
    const port = String(server.port);
    const one = await bothWays(["--port", port, "-m", "hi"]);
    expect(one.stdout).toBe(hex("Message 'hi' received successfully\n"));
    expect(one.stderr).toContain("[CONNECTED] Connected to server");
    expect(one.exitCode).toBe(0);
    const many = await bothWays(["--port", port, "-m", "a", "--message=b", "-m", "ünï"]);
    expect(many.stdout).toBe(
      hex(
        "Message 'a' received successfully\nMessage 'b' received successfully\nMessage 'ünï' received successfully\n",
      ),
    );
    const quiet = await bothWays(["--quiet", "--host", "127.0.0.1", "--port", port, "-m", "hi"]);
    expect(quiet.stderr).toBe("");
    expect((await bothWays(["--port", port, "-m", ""])).stdout).toBe(hex("Message '' received successfully\n"));
    expect((await bothWays(["--port", port, "-m", "a\nb"])).stdout).toBe(
      hex("Message 'a' received successfully\nMessage 'b' received successfully\n"),
    );
    // Acks of any length, in one read or several: the one-shot takes whole ASCII ones itself.
    const long = "x".repeat(1000);
    expect((await bothWays(["--port", port, "-m", long])).stdout).toBe(
      hex(`Message '${long}' received successfully\n`),
    );
    const names = Array.from({ length: 100 }, (_, i) => `m${i}`);
    const hundred = await bothWays(["--port", port, ...names.flatMap((name) => ["-m", name])]);
    expect(hundred.stdout).toBe(hex(names.map((name) => `Message '${name}' received successfully\n`).join("")));
    expect(hundred.exitCode).toBe(0);
  });

  test("refused, and a name that does not resolve", async () => {
    const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = String(listener.port);
    listener.stop(true);
    const refused = await bothWays(["--port", port, "-m", "hi"]);
    expect(refused.exitCode).toBe(3);
    expect(refused.stderr).toContain("[REFUSED]");
    const unresolved = await bothWays(["--host", "no-such-host.invalid", "--port", port, "-m", "hi", "--quiet"]);
    expect(unresolved.exitCode).toBe(1);
    expect(unresolved.stderr).toContain("Cannot resolve host no-such-host.invalid");
  });

  const faults: Array<[string, (socket: Socket<undefined>, chunk: Buffer) => void, number]> = [
    [
      "a notice",
      (socket) => {
        socket.write("ERROR server is full\n");
        socket.end();
      },
      5,
    ],
    ["a close without a reply", (socket) => void socket.end(), 5],
    [
      "a reply that is not an ack",
      (socket) => {
        socket.write("hello\n");
        socket.end();
      },
      5,
    ],
    [
      "an ack, then more in the same read",
      (socket) => void socket.write("Message 'hi' received successfully\nmore\n"),
      5,
    ],
    ["an ack with CRLF", (socket) => void socket.write("Message 'hi' received successfully\r\n"), 0],
    ["an ack without its LF, then a close", (socket) => void socket.end("Message 'hi' received successfully"), 0],
    ["an ack cut short by a close", (socket) => void socket.end("Message 'hi' recei"), 5],
    ["the first bytes of an ack, then a close", (socket) => void socket.end("Mess"), 5],
    [
      "acks that are not UTF-8",
      (socket) => void socket.write(Buffer.from("Message 'h\xff' received successfully\n", "latin1")),
      0,
    ],
    ["two acks in one read", (socket) => void socket.write("Message 'a' received successfully\n".repeat(2)), 0],
    ["one ack for two messages, then a close", (socket) => void socket.end("Message 'a' received successfully\n"), 5],
    // The one-shot takes whole ack lines itself and hands everything else to a ServerLink
    // (one-shot-rest.ts): these cross that line in the middle of a run.
    [
      "an ack cut across reads",
      (socket) => {
        socket.write("Message 'hi' rec");
        setTimeout(() => socket.write("eived successfully\n"), 50);
      },
      0,
    ],
    [
      "two acks in two reads, for two messages",
      (socket) => {
        socket.write("Message 'a' received successfully\n");
        setTimeout(() => socket.write("Message 'b' received successfully\n"), 50);
      },
      0,
    ],
    [
      "an ack, then a notice in a later read, for two messages",
      (socket) => {
        socket.write("Message 'a' received successfully\n");
        setTimeout(() => socket.end("ERROR server is shutting down\n"), 50);
      },
      5,
    ],
    [
      "an ack, then a reset, for two messages",
      (socket) => {
        socket.write("Message 'a' received successfully\n");
        setTimeout(() => socket.terminate(), 50);
      },
      5,
    ],
  ];
  for (const [fault, answer, exitCode] of faults) {
    test(`a server that answers with ${fault} (exit ${exitCode})`, async () => {
      const listener = scripted(answer);
      try {
        const messages = fault.includes("two") ? ["-m", "a", "-m", "b"] : ["-m", "hi"];
        const result = await bothWays(["--port", String(listener.port), ...messages]);
        expect(result.exitCode).toBe(exitCode);
      } finally {
        listener.stop(true);
      }
    });
  }

  test("Ctrl+C while the ack is owed: interrupted (exit 130), as the whole program", async () => {
    const silent = scripted(() => {});
    try {
      const interrupted = async (args: string[]) => {
        const proc = Bun.spawn([...SOURCE_CLIENT, ...args], { stdout: "pipe", stderr: "pipe", env: CHILD_ENV });
        const stderr = new Response(proc.stderr).text();
        // Connected (the server saw the message) before the signal; the status line says so.
        await Bun.sleep(700);
        proc.kill("SIGINT");
        return { exitCode: await proc.exited, stderr: await stderr };
      };
      const args = ["--port", String(silent.port), "-m", "hi"];
      const [oneShot, whole] = await Promise.all([interrupted(args), interrupted([...args, "--framing", "line"])]);
      expect(oneShot).toEqual(whole);
      expect(oneShot.exitCode).toBe(130);
      expect(oneShot.stderr).toContain("[INTERRUPT] Client shutting down...");
    } finally {
      silent.stop(true);
    }
  });

  test("a signal while the connect is still pending: the connecting line, [INTERRUPT], exit 130, as the whole program", async () => {
    // The one-shot sets up its signal handlers and its connecting line once the messages are out,
    // or after a millisecond of connecting: a connect that hangs (a full accept queue) gets both.
    const stuck = await unacceptingListener();
    try {
      const interrupted = async (args: string[]) => {
        const proc = Bun.spawn([...SOURCE_CLIENT, ...args], { stdout: "pipe", stderr: "pipe", env: CHILD_ENV });
        const stderr = new TextCollector(proc.stderr);
        await stderr.waitFor("[CONNECTING]");
        // The line and the handlers come together; a little later still, the connect is pending.
        await Bun.sleep(100);
        proc.kill("SIGTERM");
        const [exitCode, stdout] = await Promise.all([proc.exited, new Response(proc.stdout).text()]);
        await stderr.done;
        return { exitCode, stdout, stderr: stderr.text };
      };
      const args = ["--port", String(stuck.port), "-m", "hi"];
      const [oneShot, whole] = await Promise.all([interrupted(args), interrupted([...args, "--framing", "line"])]);
      expect(oneShot).toEqual(whole);
      expect(oneShot).toEqual({
        exitCode: 130,
        stdout: "",
        stderr: [
          `[CONNECTING] Connecting to server at 127.0.0.1:${stuck.port}...`,
          "[INTERRUPT] Client shutting down...",
          "[DISCONNECTED] Disconnected from server",
          "",
        ].join("\n"),
      });
    } finally {
      await stuck.close();
    }
  });
});

/** TCP buffers this small make the kernel take a one-shot's write of a few KiB only in part. */
const SMALL_TCP_BUFFERS = "4096 4096 4096";
/**
 * A shell line that gives a network namespace of its own (`unshare -n`) its loopback and small
 * TCP buffers (the namespace's own settings: the machine's stay as they are).
 */
const SMALL_BUFFERS_SETUP = [
  "ip link set lo up",
  `echo "${SMALL_TCP_BUFFERS}" > /proc/sys/net/ipv4/tcp_wmem`,
  `echo "${SMALL_TCP_BUFFERS}" > /proc/sys/net/ipv4/tcp_rmem`,
].join(" && ");
/** Why such a namespace cannot be made here (unshare needs root, or user namespaces), or "". */
const noNamespace = (() => {
  try {
    const probe = Bun.spawnSync(["unshare", "-n", "sh", "-c", SMALL_BUFFERS_SETUP], { stderr: "pipe" });
    return probe.exitCode === 0 ? "" : `unshare -n failed: ${probe.stderr.toString().trim()}`;
  } catch (error) {
    return `no unshare: ${(error as Error).message}`;
  }
})();
if (noNamespace) console.warn(`skipping the one-shot's partial write: ${noNamespace}`);

// On loopback the kernel takes a one-shot's messages (64 KiB at most, or it is the whole
// program's) in one write, so the one-shot's hand-over of what it did not take (one-shot.ts,
// `open`) never runs there. In a namespace whose TCP buffers hold 4 KiB, the first write takes
// ~3 KiB: the rest must follow through the connection's outbox, every ack come back, exit 0.
describe.skipIf(noNamespace !== "")("a one-shot whose write the kernel takes only in part", () => {
  let holder: Bun.Subprocess<"ignore", "pipe", "pipe">;
  /** Runs a program in the holder's network namespace. */
  let inNamespace: (program: Program) => Program;
  beforeAll(async () => {
    // `exec sleep` keeps the namespace for as long as the tests need it, under the shell's pid.
    holder = Bun.spawn(["unshare", "-n", "sh", "-c", `${SMALL_BUFFERS_SETUP} && echo ready && exec sleep 600`], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    await new TextCollector(holder.stdout).waitFor(/ready/);
    inNamespace = (program) => ["nsenter", "-t", String(holder.pid), "-n", "--", ...program];
  });
  afterAll(() => {
    holder.kill("SIGKILL");
  });

  test("the rest follows: every ack, exit 0, as the whole program", async () => {
    // The namespace has the buffers asked for; with the machine's defaults this test would pass
    // without a partial write.
    const buffers = Bun.spawnSync(inNamespace(["cat", "/proc/sys/net/ipv4/tcp_wmem"])).stdout.toString();
    expect(buffers.trim().split(/\s+/).join(" ")).toBe(SMALL_TCP_BUFFERS);
    await using server = await startServerProcess(["--quiet"], inNamespace(SOURCE_SERVER));
    const texts = ["a", "b", "c"].map((letter) => letter.repeat(20_000));
    const result = await bothWays(
      ["--port", String(server.port), ...texts.flatMap((text) => ["-m", text])],
      inNamespace(SOURCE_CLIENT),
    );
    expect(result.stdout).toBe(hex(texts.map((text) => `Message '${text}' received successfully\n`).join("")));
    expect(result.stderr).toContain("[DISCONNECTED] Disconnected from server");
    expect(result.exitCode).toBe(0);
  });
});

describe("which command lines are one-shots", () => {
  test("-m and --message, --host, --port and --quiet, spelt as the whole program reads them", () => {
    expect(oneShotPlan(["-m", "hi"], pipes)).toEqual({
      host: "127.0.0.1",
      port: 12345,
      messages: ["hi"],
      quiet: false,
    });
    expect(
      oneShotPlan(["--host=::1", "--port", "80", "-m=a", "--message", "-v", "--quiet", "--port=81"], pipes),
    ).toEqual({
      host: "::1",
      port: 81,
      messages: ["a", "-v"],
      quiet: true,
    });
  });

  test("output to a terminal is the whole program's (acks escaped, a progress line), as is stderr's unless --quiet", () => {
    expect(oneShotPlan(["-m", "hi"], (stream) => stream === "stdout")).toBeUndefined();
    expect(oneShotPlan(["-m", "hi"], (stream) => stream === "stderr")).toBeUndefined();
    expect(oneShotPlan(["-m", "hi", "--quiet"], (stream) => stream === "stderr")).toBeDefined();
    // Not known at once (no native isatty): the whole program finds out.
    expect(oneShotPlan(["-m", "hi"], () => undefined)).toBeUndefined();
  });

  test("anything else is the whole program's: no message, another flag, a bad port, --help, a missing value", () => {
    for (const args of [
      [],
      ["-m", "hi", "--json"],
      ["-m", "hi", "--port", "0"],
      ["-m", "hi", "--host", ""],
      ["-m", "hi", "--port", "x"],
      ["-m", "hi", "--port", "65536"],
      ["-m", "hi", "--help"],
      ["-m", "hi", "--version"],
      ["-m", "hi", "extra"],
      ["-m"],
      ["-m", "hi", "--tls"],
      ["bench", "-m", "hi"],
      ["-m", "x".repeat(70 * 1024)],
    ]) {
      expect({ args: args.map((arg) => arg.slice(0, 20)), plan: oneShotPlan(args, pipes) }).toEqual({
        args: args.map((arg) => arg.slice(0, 20)),
        plan: undefined,
      });
    }
  });
});
