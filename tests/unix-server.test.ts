// Unix socket listeners (unix:PATH, unix:@NAME) against socat and nc -U: served, the socket
// file's mode, a stale file replaced, a live one refused, and the file gone after the server.
import { afterAll, beforeAll, expect, test } from "bun:test";
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { spawnLineClient, startListeningServer } from "./helpers/listeners.ts";
import { DEADLINE_MS, eventually, runProgram, SOURCE_SERVER } from "./helpers/processes.ts";
import { ackLine } from "./helpers/spec.ts";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "socket-lab-unix-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(`${dir}-link`, { force: true });
});

let sockets = 0;
const socketPath = () => join(dir, `server-${++sockets}.sock`);
/** A link to the test's folder, made once. */
const link = () => {
  const path = `${dir}-link`;
  if (!existsSync(path)) symlinkSync(dir, path);
  return path;
};

test.each([
  ["socat UNIX-CONNECT", (path: string) => ["socat", "-", `UNIX-CONNECT:${path}`]],
  ["nc -U", (path: string) => ["nc", "-U", path]],
])("%s: lines in, acks out, each peer named after the socket", async (_name, command) => {
  const path = socketPath();
  await using server = await startListeningServer(["--listen", `unix:${path}`], 1);
  expect(server.addresses).toEqual([`unix:${path}`]);
  for (const n of [1, 2]) {
    await using client = spawnLineClient(command(path));
    client.send(`hello ${n}\n`);
    await client.stdout.waitFor(ackLine(`hello ${n}`));
    await server.stdout.waitFor(`[unix:${path}#${n}] hello ${n}\n`);
  }
  await server.stderr.waitFor(`[NEW CONNECTION] unix:${path}#2 connected.`);
  expect(await server.stop()).toBe(0);
});

test("an abstract socket (unix:@NAME) is served to socat ABSTRACT-CONNECT", async () => {
  const name = `socket-lab-test-${process.pid}-${Date.now()}`;
  await using server = await startListeningServer(["--listen", `unix:@${name}`], 1);
  {
    await using client = spawnLineClient(["socat", "-", `ABSTRACT-CONNECT:${name}`]);
    client.send("abstract\n");
    await client.stdout.waitFor(ackLine("abstract"));
    await server.stdout.waitFor(`[unix:@${name}#1] abstract\n`);
  }
  expect(await server.stop()).toBe(0);
});

test.each([
  ["by default", [], 0o660],
  ["--unix-mode 0600", ["--unix-mode", "0600"], 0o600],
  ["--unix-mode 666", ["--unix-mode", "666"], 0o666],
])("socket file mode %s; the file is removed after SIGTERM", async (_name, flags, mode) => {
  const path = socketPath();
  await using server = await startListeningServer(["--listen", `unix:${path}`, ...flags], 1);
  const stats = statSync(path);
  expect(stats.isSocket()).toBe(true);
  expect(stats.mode & 0o777).toBe(mode);
  expect(await server.stop("SIGTERM")).toBe(0);
  expect(existsSync(path)).toBe(false);
});

test("the socket file goes when the shutdown starts (no one new can connect), and the server still drains", async () => {
  const path = socketPath();
  await using server = await startListeningServer(["--listen", `unix:${path}`, "--drain-timeout", "30"], 1);
  // nc keeps its side open after the goodbye, so the drain waits: the second SIGINT ends it.
  await using client = spawnLineClient(["nc", "-U", path]);
  client.send("hold on\n");
  await client.stdout.waitFor(ackLine("hold on"));
  server.proc.kill("SIGINT");
  await server.stderr.waitFor("[SHUTTING DOWN]");
  expect(existsSync(path)).toBe(false);
  // The connection already open still gets its goodbye.
  await client.stdout.waitFor("ERROR server shutting down\n");
  expect(await server.stop("SIGINT")).toBe(130);
});

test("a stale socket file (its server was killed) is replaced", async () => {
  const path = socketPath();
  const crashed = await startListeningServer(["--listen", `unix:${path}`], 1);
  crashed.proc.kill("SIGKILL");
  await crashed.proc.exited;
  expect(statSync(path).isSocket()).toBe(true);
  await using server = await startListeningServer(["--listen", `unix:${path}`], 1);
  {
    await using client = spawnLineClient(["nc", "-U", path]);
    client.send("after the crash\n");
    await client.stdout.waitFor(ackLine("after the crash"));
  }
  expect(await server.stop()).toBe(0);
});

test("a restart that removes the file and starts the new server first: stopping the old one leaves the new one's file", async () => {
  const path = socketPath();
  await using old = await startListeningServer(["--listen", `unix:${path}`], 1);
  rmSync(path);
  await using next = await startListeningServer(["--listen", `unix:${path}`], 1);
  const nextFile = statSync(path).ino;
  expect(await old.stop("SIGTERM")).toBe(0);
  expect(statSync(path).ino).toBe(nextFile);
  {
    await using client = spawnLineClient(["nc", "-U", path]);
    client.send("to the new one\n");
    await client.stdout.waitFor(ackLine("to the new one"));
    await next.stdout.waitFor("to the new one\n");
  }
  expect(await next.stop("SIGTERM")).toBe(0);
  // Its own file it does remove, and nothing is left beside it.
  expect(existsSync(path)).toBe(false);
  expect(readdirSync(dir).filter((name) => name.startsWith(basename(path)))).toEqual([]);
});

// The restart above, where the new server's file belongs to another user and the old server may
// not link it (fs.protected_hardlinks: a link to another user's socket file needs CAP_FOWNER):
// moved aside for the stop, it goes back by rename. It needs two users, so root: the other server
// is socat run as nobody, and the old one runs as root without CAP_FOWNER.
const asRootWithHardlinksProtected =
  process.getuid?.() === 0 && readFileSync("/proc/sys/fs/protected_hardlinks", "utf8").trim() === "1";
test.skipIf(!asRootWithHardlinksProtected)(
  "that restart when the new server is another user's, whose file may not be linked: it goes back by rename",
  async () => {
    // A folder of its own: nobody may not enter the test's folder.
    const shared = mkdtempSync(join(tmpdir(), "socket-lab-two-users-"));
    chmodSync(shared, 0o777);
    const path = join(shared, "server.sock");
    await using old = await startListeningServer(["--listen", `unix:${path}`], 1, {
      runAs: ["setpriv", "--bounding-set=-fowner"],
    });
    rmSync(path);
    const other = Bun.spawn(
      ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"].concat([
        "socat",
        `UNIX-LISTEN:${path},fork`,
        "SYSTEM:echo the other server",
      ]),
      { stdin: "ignore", stdout: "ignore", stderr: "inherit" },
    );
    try {
      await eventually(() => existsSync(path), DEADLINE_MS, "the other server's socket file");
      const otherFile = statSync(path);
      expect(otherFile.uid).toBe(65534);
      expect(await old.stop("SIGTERM")).toBe(0);
      expect(statSync(path).ino).toBe(otherFile.ino);
      expect(readdirSync(shared)).toEqual(["server.sock"]);
      const reply = await runProgram(["nc", "-N", "-U", path], [], { stdin: "" });
      expect(reply.stdout).toBe("the other server\n");
    } finally {
      other.kill();
      await other.exited;
      rmSync(shared, { recursive: true, force: true });
    }
  },
);

test("a socket where another server listens is refused, and that server keeps serving", async () => {
  const path = socketPath();
  await using first = await startListeningServer(["--listen", `unix:${path}`], 1);
  const second = await runProgram(SOURCE_SERVER, ["--listen", `unix:${path}`]);
  expect(second.exitCode).toBe(1);
  expect(second.stderr).toBe(`[ERROR] Address unix:${path} is already in use\n`);
  {
    await using client = spawnLineClient(["nc", "-U", path]);
    client.send("still mine\n");
    await client.stdout.waitFor(ackLine("still mine"));
  }
  expect(await first.stop()).toBe(0);
});

test.each([
  ["a stream listener bound by a relative path", (name: string) => ({ cwd: dir, target: `UNIX-LISTEN:${name},fork` })],
  [
    "a listener bound through a linked folder",
    (name: string) => ({ cwd: dir, target: `UNIX-LISTEN:${link()}/${name},fork` }),
  ],
  ["a datagram receiver (not a listener)", (name: string) => ({ cwd: dir, target: `UNIX-RECV:${name}` })],
])("%s is not taken for a stale socket: refused, and its file stays", async (_name, bind) => {
  const name = `other-${++sockets}.sock`;
  const path = join(dir, name);
  const { cwd, target } = bind(name);
  const other = Bun.spawn(["socat", "-u", target, "-"], { cwd, stdout: "ignore", stderr: "ignore" });
  try {
    await eventually(() => existsSync(path), DEADLINE_MS, "socat's socket file");
    const result = await runProgram(SOURCE_SERVER, ["--listen", `unix:${path}`]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe(`[ERROR] Address unix:${path} is already in use\n`);
    expect(statSync(path).isSocket()).toBe(true);
    expect(other.exitCode).toBeNull();
  } finally {
    other.kill();
  }
});

test("a path that is a regular file is not deleted", async () => {
  const path = join(dir, "not-a-socket");
  writeFileSync(path, "precious");
  const result = await runProgram(SOURCE_SERVER, ["--listen", `unix:${path}`]);
  expect(result.exitCode).toBe(1);
  expect(result.stderr).toBe(`[ERROR] Cannot listen on unix:${path}: the path exists and is not a socket\n`);
  expect(existsSync(path)).toBe(true);
});

test("address rules (--allow, --max-connections-per-address) do not apply to Unix peers, who have no address", async () => {
  const path = socketPath();
  await using server = await startListeningServer(
    ["--listen", `unix:${path}`, "--allow", "10.0.0.0/8", "--max-connections-per-address", "1"],
    1,
  );
  await using first = spawnLineClient(["nc", "-U", path]);
  await using second = spawnLineClient(["nc", "-U", path]);
  first.send("one\n");
  second.send("two\n");
  await first.stdout.waitFor(ackLine("one"));
  await second.stdout.waitFor(ackLine("two"));
  expect(server.stderr.text).not.toContain("[DENIED]");
  await first[Symbol.asyncDispose]();
  await second[Symbol.asyncDispose]();
  expect(await server.stop()).toBe(0);
});
