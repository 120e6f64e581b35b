// A compiled server and client, run the way a user who downloaded them would: from a folder of
// their own with no node_modules and nothing on PATH (no Bun to fall back on; this machine has one
// in /usr/bin), holding a .env and a bunfig.toml of the user's that the binaries must ignore.
// binaries.test.ts runs these checks on dist/, release.test.ts on the release's linux binaries,
// natively and under qemu.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { DEADLINE_MS, type Program, runProgram, startServerProcess } from "./processes.ts";
import { freePort } from "./sockets.ts";
import { ack } from "./spec.ts";
import { TerminalSession } from "./terminal.ts";

export interface StandalonePair {
  server: Program;
  client: Program;
}

/**
 * Declares the checks as a describe block. `pair` is called inside the tests, so it may name
 * files that a beforeAll creates. `deadlineMs` bounds each program run (an emulated one is slow).
 */
export function describeStandalonePair(title: string, pair: () => StandalonePair, deadlineMs = DEADLINE_MS): void {
  // A test runs up to two programs at a time, each with its own deadline, which must fire first.
  const testTimeoutMs = 3 * deadlineMs;

  describe(title, () => {
    let folder: string;
    let env: Record<string, string>;

    beforeAll(() => {
      folder = mkdtempSync(join(tmpdir(), "socket-lab-user-"));
      const emptyBin = join(folder, "empty-bin");
      mkdirSync(emptyBin);
      // If the binaries loaded these, the preload would print and NO_COLOR would uncolour --help.
      writeFileSync(join(folder, "bunfig.toml"), 'preload = ["./hijack.ts"]\n');
      writeFileSync(join(folder, "hijack.ts"), 'console.error("HIJACKED by bunfig.toml");\n');
      writeFileSync(join(folder, ".env"), "NO_COLOR=1\n");
      env = { PATH: emptyBin, HOME: folder };
    });

    afterAll(() => {
      if (folder) rmSync(folder, { recursive: true, force: true });
    });

    const run = (program: Program, args: string[], stdin?: string) =>
      runProgram(program, args, { cwd: folder, env, stdin, deadlineMs });

    test("there is no bun to fall back on", () => {
      expect(Bun.which("bun", { PATH: env.PATH })).toBeNull();
      expect(existsSync(join(folder, "node_modules"))).toBe(false);
    });

    test(
      "--version prints the package version, and nothing else runs (bunfig.toml's preload)",
      async () => {
        const { server, client } = pair();
        for (const program of [server, client]) {
          const result = await run(program, ["--version"]);
          expect(result).toEqual({ exitCode: 0, stdout: `${pkg.version}\n`, stderr: "" });
        }
      },
      testTimeoutMs,
    );

    test(
      "--help shows usage with the flags, as plain text when piped",
      async () => {
        const { server, client } = pair();
        for (const [program, name] of [
          [server, "server"],
          [client, "client"],
        ] as const) {
          const result = await run(program, ["--help"]);
          expect(result.exitCode).toBe(0);
          expect(result.stdout).toContain(`USAGE ${name} [OPTIONS]`);
          for (const flag of ["--host", "--port", "--framing", "--json", "--quiet"])
            expect(result.stdout).toContain(flag);
          // Colour codes would end up in a pager or a file: stdout is not a terminal here.
          expect(result.stdout).not.toContain("\x1b[");
        }
      },
      testTimeoutMs,
    );

    test(
      "--help on a terminal is in colour: the folder's .env (NO_COLOR=1) is not loaded",
      async () => {
        const terminal = TerminalSession.start(pair().client, ["--help"], { cwd: folder, env });
        try {
          expect(await terminal.exited(deadlineMs)).toBe(0);
          expect(terminal.screen.join("\n")).toContain("USAGE client [OPTIONS]");
          expect(terminal.output.text).toContain("\x1b[");
        } finally {
          await terminal.close();
        }
      },
      testTimeoutMs,
    );

    test(
      "one round trip: server and client binaries talk; bunfig.toml in the folder is ignored",
      async () => {
        const { server, client } = pair();
        const running = await startServerProcess(["--port", "0"], server, { cwd: folder, env, deadlineMs });
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
      },
      testTimeoutMs,
    );

    test(
      // Reads this large take the bulk line scan (line-scan.ts), which the in-process tests check
      // against a reference; here it runs in the binary, on its CPU.
      "a piped file of 20,000 lines: every one acknowledged, in order",
      async () => {
        const { server, client } = pair();
        const running = await startServerProcess(["--port", "0", "--quiet"], server, { cwd: folder, env, deadlineMs });
        try {
          const lines = Array.from({ length: 20_000 }, (_, i) => `line ${i + 1}`);
          const result = await run(client, ["--port", String(running.port), "--quiet"], `${lines.join("\n")}\n`);
          expect(result.stderr).toBe("");
          expect(result.exitCode).toBe(0);
          expect(result.stdout).toBe(lines.map((line) => `${ack(line)}\n`).join(""));
          expect(await running.stop()).toBe(0);
        } finally {
          running.proc.kill("SIGKILL");
        }
      },
      testTimeoutMs,
    );

    test(
      // A one-shot hands such replies to the rest of the one-shot (one-shot-rest.ts), which the
      // binaries bundle apart (scripts/compile.ts): here it loads and takes over inside a binary.
      "a one-shot's unusual replies: an ack cut across reads is printed whole (exit 0), a notice ends it (exit 5)",
      async () => {
        const reply = ack("x");
        const server = Bun.listen({
          hostname: "127.0.0.1",
          port: 0,
          socket: {
            data(socket, chunk) {
              if (chunk.toString().startsWith("notice")) {
                socket.write("ERROR server is full\n");
                socket.end();
                return;
              }
              socket.write(reply.slice(0, 10));
              setTimeout(() => socket.write(`${reply.slice(10)}\n`), 50);
            },
          },
        });
        try {
          const port = String(server.port);
          const cut = await run(pair().client, ["--port", port, "-m", "x"]);
          expect({ exitCode: cut.exitCode, stdout: cut.stdout }).toEqual({ exitCode: 0, stdout: `${reply}\n` });
          expect(cut.stderr).toContain("[CONNECTED] Connected to server\n");
          const notice = await run(pair().client, ["--port", port, "-m", "notice"]);
          expect({ exitCode: notice.exitCode, stdout: notice.stdout }).toEqual({ exitCode: 5, stdout: "" });
          expect(notice.stderr).toContain("server is full");
        } finally {
          server.stop(true);
        }
      },
      testTimeoutMs,
    );

    test(
      "exit codes: refused is 3",
      async () => {
        const result = await run(pair().client, ["--port", String(freePort()), "-m", "x"]);
        expect(result.exitCode).toBe(3);
        expect(result.stderr).toContain("[REFUSED] Connection refused. Make sure the server is running.\n");
      },
      testTimeoutMs,
    );
  });
}
