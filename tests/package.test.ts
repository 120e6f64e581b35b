// The npm package as a user gets it: `npm pack`, install the tarball into a fresh project, run its
// socket-lab-server and socket-lab-client commands (TypeScript files run by Bun's shebang), and
// use it as a library, imported by name, as the README's "Use it as a library" example does.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import pkg from "../package.json" with { type: "json" };
import { CHILD_ENV, ROOT, runProgram, startServerProcess } from "./helpers/processes.ts";
import { ackLine } from "./helpers/spec.ts";

/** npm install fetches citty and prom-client (from its cache when it can). */
const INSTALL_DEADLINE_MS = 180_000;

let workDir: string;
let projectDir: string;
let packedFiles: string[];
/** The installed commands find `bun` (their shebang's interpreter) where this test's Bun is. */
let commandEnv: Record<string, string | undefined>;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), "socket-lab-package-"));
  // Under `npm test` the environment carries npm_config_local_prefix=<this repo> and the like:
  // drop them so the install goes into the temporary project, not here.
  const npmEnv = {
    ...Object.fromEntries(Object.entries(CHILD_ENV).filter(([name]) => !name.toLowerCase().startsWith("npm_"))),
    npm_config_audit: "false",
    npm_config_fund: "false",
    npm_config_update_notifier: "false",
  };
  const pack = await runProgram(["npm", "pack", "--json", "--pack-destination", workDir], [], {
    cwd: ROOT,
    env: npmEnv,
    deadlineMs: INSTALL_DEADLINE_MS,
  });
  if (pack.exitCode !== 0) throw new Error(`npm pack failed:\n${pack.stderr}`);
  const [packed] = JSON.parse(pack.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  packedFiles = packed!.files.map((file) => file.path);

  projectDir = join(workDir, "project");
  await mkdir(projectDir);
  await Bun.write(join(projectDir, "package.json"), JSON.stringify({ name: "uses-socket-lab", private: true }));
  const install = await runProgram(["npm", "install", "--prefer-offline", join(workDir, packed!.filename)], [], {
    cwd: projectDir,
    env: npmEnv,
    deadlineMs: INSTALL_DEADLINE_MS,
  });
  if (install.exitCode !== 0) throw new Error(`npm install of the tarball failed:\n${install.stderr}`);

  commandEnv = { ...CHILD_ENV, PATH: `${dirname(process.execPath)}:${process.env.PATH}` };
}, INSTALL_DEADLINE_MS * 2);

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe("npm package", () => {
  test("the tarball holds the entry points, src/ and package.json; no tests, scripts or builds", () => {
    expect(packedFiles).toContain("server.ts");
    expect(packedFiles).toContain("client.ts");
    expect(packedFiles).toContain("package.json");
    expect(packedFiles).toContain("src/server/server.ts");
    const unexpected = packedFiles.filter(
      (path) => !/^(server\.ts|client\.ts|package\.json|README\.md|LICENSE)$/.test(path) && !path.startsWith("src/"),
    );
    expect(unexpected).toEqual([]);
  });

  test("the installed commands print the version", async () => {
    for (const command of ["socket-lab-server", "socket-lab-client"]) {
      const result = await runProgram([join(projectDir, "node_modules", ".bin", command)], ["--version"], {
        cwd: projectDir,
        env: commandEnv,
      });
      expect({ command, ...result }).toEqual({ command, exitCode: 0, stdout: `${pkg.version}\n`, stderr: "" });
    }
  });

  test("socket-lab-client gets its message acknowledged by socket-lab-server", async () => {
    const bin = join(projectDir, "node_modules", ".bin");
    const server = await startServerProcess([], [join(bin, "socket-lab-server")], { cwd: projectDir, env: commandEnv });
    try {
      const result = await runProgram([join(bin, "socket-lab-client")], ["--port", String(server.port), "-m", "hi"], {
        cwd: projectDir,
        env: commandEnv,
      });
      expect(result.stdout).toBe("Message 'hi' received successfully\n");
      expect(result.exitCode).toBe(0);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});

describe("as a library", () => {
  test("a script imports startServer from 'socket-lab', serves with `await using`, gets its ack, exits 0", async () => {
    const script = join(projectDir, "uses-the-library.ts");
    await Bun.write(
      script,
      `import { startServer } from "socket-lab";

await using server = startServer({ host: "127.0.0.1", port: 0 });
const reply = Promise.withResolvers<string>();
const socket = await Bun.connect({
  hostname: "127.0.0.1",
  port: server.port,
  socket: { data: (_socket, chunk) => reply.resolve(chunk.toString()) },
});
socket.write("from a library user\\n");
process.stdout.write(await reply.promise);
socket.end();
`,
    );
    const result = await runProgram([process.execPath, script], [], { cwd: projectDir, env: commandEnv });
    // The library prints nothing of its own: only the script's line, and the process ends by itself
    // (the server stopped at the end of the scope).
    expect(result).toEqual({ exitCode: 0, stdout: ackLine("from a library user"), stderr: "" });
  });

  test("the README's example, a test fixture, passes under `bun test` in the user's project", async () => {
    const readme = await Bun.file(join(ROOT, "README.md")).text();
    const section = readme.slice(readme.indexOf("## Use it as a library"));
    const example = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    expect(example).toContain('from "socket-lab"');
    expect(example).toContain("await using server = startServer(");
    await Bun.write(join(projectDir, "fixture.test.ts"), example!);
    const result = await runProgram([process.execPath, "test", "./fixture.test.ts"], [], {
      cwd: projectDir,
      env: commandEnv,
    });
    expect({ exitCode: result.exitCode, output: result.stderr }).toEqual({
      exitCode: 0,
      output: expect.stringContaining(" 1 pass\n"),
    });
    expect(result.stderr).toContain(" 0 fail\n");
  });
});

describe("from the repository", () => {
  test("`bun run server.ts` and `bun run client.ts` make a round trip", async () => {
    const server = await startServerProcess([], [process.execPath, "run", "server.ts"], { cwd: ROOT });
    try {
      const result = await runProgram(
        [process.execPath, "run", "client.ts"],
        ["--port", String(server.port), "-m", "hi"],
        {
          cwd: ROOT,
        },
      );
      expect(result.stdout).toBe("Message 'hi' received successfully\n");
      expect(result.exitCode).toBe(0);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});
