// The compiled binaries (dist/server, dist/client), run the way a user who downloaded them would:
// from a folder of their own with no node_modules and no Bun on PATH. `npm test` builds dist/
// first; when it is missing or stale (plain `bun test`), it is built here.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../package.json" with { type: "json" };
import { buildBinary, ENTRY_POINTS } from "../scripts/compile.ts";
import { ROOT, runProgram, startServerProcess } from "./helpers/processes.ts";
import { freePort } from "./helpers/sockets.ts";
import { ack } from "./helpers/spec.ts";

let folder: string;
let server: string[];
let client: string[];
/** A user's environment: a PATH with nothing on it (this machine has bun in /usr/bin). */
let env: Record<string, string>;

/** The newest modification time of the code that goes into the binaries. */
function newestSource(): number {
  const files = ["server.ts", "client.ts", "package.json", ...readdirSync(join(ROOT, "src"), { recursive: true }).map((f) => join("src", String(f)))];
  return Math.max(...files.map((file) => statSync(join(ROOT, file)).mtimeMs));
}

beforeAll(async () => {
  // Missing, or older than the code (a plain `bun test` after an edit): build, or the binaries
  // tested would not be the code under test.
  const sourceTime = newestSource();
  for (const [name, entry] of Object.entries(ENTRY_POINTS)) {
    const binary = join(ROOT, "dist", name);
    if (!existsSync(binary) || statSync(binary).mtimeMs < sourceTime) {
      await buildBinary({ entry: join(ROOT, entry), outfile: binary });
    }
  }
  folder = mkdtempSync(join(tmpdir(), "socket-lab-binaries-"));
  const bin = join(folder, "empty-bin");
  mkdirSync(bin);
  for (const name of Object.keys(ENTRY_POINTS)) copyFileSync(join(ROOT, "dist", name), join(folder, name));
  // A user's own bunfig.toml in the working directory must not change what the binaries do.
  writeFileSync(join(folder, "bunfig.toml"), 'preload = ["./hijack.ts"]\n');
  writeFileSync(join(folder, "hijack.ts"), 'console.error("HIJACKED by bunfig.toml");\n');
  server = [join(folder, "server")];
  client = [join(folder, "client")];
  env = { PATH: bin, HOME: folder };
});

afterAll(() => {
  if (folder) rmSync(folder, { recursive: true, force: true });
});

const run = (program: string[], args: string[], stdin?: string) => runProgram(program, args, { cwd: folder, env, stdin });

describe("compiled binaries, from a folder without node_modules or Bun", () => {
  test("there is no bun to fall back on", () => {
    expect(Bun.which("bun", { PATH: env.PATH })).toBeNull();
    expect(existsSync(join(folder, "node_modules"))).toBe(false);
  });

  test("--version prints the package version", async () => {
    for (const program of [server, client]) {
      const result = await run(program, ["--version"]);
      expect({ exitCode: result.exitCode, stdout: result.stdout }).toEqual({ exitCode: 0, stdout: `${pkg.version}\n` });
    }
  });

  test("--help shows usage with the flags, as plain text when piped", async () => {
    for (const [program, name] of [[server, "server"], [client, "client"]] as const) {
      const result = await run(program, ["--help"]);
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toContain(`USAGE ${name} [OPTIONS]`);
      for (const flag of ["--host", "--port", "--framing", "--json", "--quiet"]) expect(result.stdout).toContain(flag);
      // Colour codes would end up in a pager or a file: stdout is not a terminal here.
      expect(result.stdout).not.toContain("\x1b[");
    }
  });

  test("one round trip: server and client binaries talk; bunfig.toml in the folder is ignored", async () => {
    const running = await startServerProcess(["--port", "0"], server, { cwd: folder, env });
    try {
      const result = await run(client, ["--port", String(running.port), "--quiet"], "hello from a binary\n");
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toBe(`${ack("hello from a binary")}\n`);
      expect(result.stderr).toBe("");
      expect(await running.stop()).toBe(0);
      expect(running.stdout.text).toMatch(/^\[127\.0\.0\.1:\d+\] hello from a binary\n$/);
      expect(running.stderr.text).not.toContain("HIJACKED");
    } finally {
      running.proc.kill("SIGKILL");
    }
  });

  test("exit codes: refused is 3", async () => {
    const result = await run(client, ["--port", String(freePort()), "-m", "x"]);
    expect(result.exitCode).toBe(3);
    expect(result.stderr).toContain("[REFUSED] Connection refused. Make sure the server is running.\n");
  });
});
