// The client on a network (spec, "Network"): --unix to a Unix socket (a path, or @NAME for a
// Linux abstract socket), through socat forwarding to our server, and a host name that does not
// resolve. The bench takes the same flags.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runClient, runProgram, SOURCE_CLIENT, serverForThisFile, startClientProcess } from "./helpers/processes.ts";
import { type SocatProcess, startSocat } from "./helpers/socat.ts";

const server = serverForThisFile();
const dir = mkdtempSync(join(tmpdir(), "socket-lab-unix-"));
const socketPath = join(dir, "server.sock");
const abstractName = `socket-lab-test-${process.pid}`;
const forwarders: SocatProcess[] = [];

beforeAll(async () => {
  const plain = `TCP:127.0.0.1:${server().port}`;
  forwarders.push(await startSocat(`UNIX-LISTEN:${socketPath},fork`, plain));
  forwarders.push(await startSocat(`ABSTRACT-LISTEN:${abstractName},fork`, plain));
});

afterAll(async () => {
  for (const forwarder of forwarders) await forwarder[Symbol.asyncDispose]();
  rmSync(dir, { recursive: true, force: true });
});

describe("--unix", () => {
  test.each([
    { name: "a socket file", unix: () => socketPath },
    { name: "an abstract socket (@NAME)", unix: () => `@${abstractName}` },
  ])("$name: every message acknowledged, and the CONNECTING line names the socket", async ({ unix }) => {
    const result = await runClient(["--unix", unix(), "-m", "one", "-m", "two"]);
    expect(result.stdout).toBe("Message 'one' received successfully\nMessage 'two' received successfully\n");
    expect(result.stderr).toContain(`[CONNECTING] Connecting to server at unix:${unix()}...\n`);
    expect(result.exitCode).toBe(0);
  });

  test("no socket at the path: refused (exit 3), saying which path", async () => {
    const missing = join(dir, "missing.sock");
    const result = await runClient(["--unix", missing, "-m", "x"]);
    expect(result.stderr).toContain(`[REFUSED] No socket at ${missing}. Make sure the server is running.\n`);
    expect(result.exitCode).toBe(3);
  });

  test.each([
    ["", []],
    [", and --reconnect does not wait for the mode to change", ["--reconnect"]],
  ])("a socket this user may not connect to: permission denied, naming the path (exit 1)%s", async (_, flags) => {
    const locked = join(dir, `locked-${flags.length}.sock`);
    await using _forwarder = await startSocat(`UNIX-LISTEN:${locked},fork`, `TCP:127.0.0.1:${server().port}`);
    chmodSync(locked, 0);
    // Root may connect to any file: as root, the client runs without the capability that allows it.
    const asUser = process.getuid?.() === 0 ? ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] : [];
    const result = await runProgram([...asUser, ...SOURCE_CLIENT], ["--unix", locked, ...flags, "-m", "x"]);
    expect(result.stderr).toContain(
      `[ERROR] Permission denied: ${locked} (the socket file's mode, or a folder on its path, does not let this user connect)\n`,
    );
    expect(result.stderr).not.toContain("RECONNECTING");
    expect(result.exitCode).toBe(1);
  });

  test("no abstract socket of that name: refused (exit 3)", async () => {
    const result = await runClient(["--unix", `@${abstractName}-nobody`, "-m", "x"]);
    expect(result.stderr).toContain("[REFUSED] Connection refused. Make sure the server is running.\n");
    expect(result.exitCode).toBe(3);
  });

  test("--reconnect waits for a socket that is not there yet (a server starting after its client)", async () => {
    const later = join(dir, "later.sock");
    const client = startClientProcess(["--unix", later, "--reconnect", "-m", "early"]);
    try {
      await client.stderr.waitFor(`[RECONNECTING] No socket at ${later}; retrying in`);
      await using _forwarder = await startSocat(`UNIX-LISTEN:${later},fork`, `TCP:127.0.0.1:${server().port}`);
      expect(await client.exited()).toBe(0);
      expect(client.stdout.text).toBe("Message 'early' received successfully\n");
    } finally {
      client.proc.kill();
    }
  });

  test("a path longer than a socket address holds is a usage error", async () => {
    const result = await runClient(["--unix", `/tmp/${"x".repeat(200)}`, "-m", "x"]);
    expect(result.stderr).toContain("client: --unix must be at most 107 bytes long");
    expect(result.exitCode).toBe(2);
  });

  test.each([
    { name: "a socket file", unix: () => socketPath },
    { name: "an abstract socket", unix: () => `@${abstractName}` },
  ])("client bench --unix, $name: a short run with no errors", async ({ unix }) => {
    const result = await runClient(["bench", "--unix", unix(), "-c", "4", "-n", "400", "--json", "--quiet"]);
    expect(JSON.parse(result.stdout)).toMatchObject({ unix: unix(), connected: 4, messages: 400, errors: 0 });
    expect(result.exitCode).toBe(0);
  });
});

describe("a host that does not resolve", () => {
  test.each([
    { name: "", args: [] },
    { name: " (--reconnect does not retry it)", args: ["--reconnect"] },
  ])("the client says so in one plain line, exit 1$name", async ({ args }) => {
    const result = await runClient(["--host", "nosuch.invalid", ...args, "-m", "x"]);
    expect(result.stderr).toContain("[ERROR] Cannot resolve host nosuch.invalid\n");
    expect(result.stderr).not.toContain("getaddrinfo");
    expect(result.stderr).not.toContain("[RECONNECTING]");
    expect(result.exitCode).toBe(1);
  });

  test("the bench says so once, not once per connection, and counts the errors", async () => {
    const result = await runClient(["bench", "--host", "nosuch.invalid", "-c", "3", "-d", "1", "--json", "--quiet"]);
    expect(result.stderr).toBe("[ERROR] Cannot resolve host nosuch.invalid\n");
    expect(JSON.parse(result.stdout)).toMatchObject({ connected: 0, errors: 3, errorKinds: { unresolved: 3 } });
    expect(result.exitCode).toBe(1);
  });
});
