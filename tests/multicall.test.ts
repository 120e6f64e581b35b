// The multi-call binary's choice of program: by the name it was invoked under (a link or a copy
// called `server` or `client`, `.exe`/`.cmd` on Windows), else by its first argument.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { pickProgram } from "../src/cli/multicall.ts";
import { ROOT, runProgram } from "./helpers/processes.ts";

describe("pickProgram", () => {
  test.each([
    ["/usr/local/bin/server", ["--port", "0"], "server", ["--port", "0"]],
    ["./client", ["-m", "hi"], "client", ["-m", "hi"]],
    ["C:\\socket-lab\\client.exe", ["bench"], "client", ["bench"]],
    ["C:\\socket-lab\\server.CMD", [], "server", []],
    // Only a last .exe or .cmd comes off: this is no program's name.
    ["/opt/client.exe.old", ["client"], "client", []],
    ["socket-lab", ["server", "--port", "0"], "server", ["--port", "0"]],
    ["./socket-lab", ["client", "bench", "-n", "5"], "client", ["bench", "-n", "5"]],
    // Invoked under a program's name, the first argument is that program's, even if it is a name.
    ["server", ["client"], "server", ["client"]],
    ["socket-lab", ["--help"], undefined, ["--help"]],
    ["bun", [], undefined, []],
  ] as const)("%p %p -> %p %p", (argv0, args, program, rest) => {
    expect(pickProgram(argv0, [...args])).toEqual({ program, args: [...rest] });
  });
});

describe("socket-lab from source", () => {
  const multicall = [process.execPath, join(ROOT, "src", "cli", "multicall.ts")];

  test("socket-lab server --help is the server's help, socket-lab client --help the client's", async () => {
    const server = await runProgram(multicall, ["server", "--help"]);
    const client = await runProgram(multicall, ["client", "--help"]);
    expect([server.exitCode, client.exitCode]).toEqual([0, 0]);
    expect(server.stdout).toContain("--max-connections");
    expect(client.stdout).toContain("--message");
    expect(client.stdout).not.toContain("--max-connections");
  });

  test("no program, or an unknown one, is a usage error (exit 2) that says what to type", async () => {
    for (const args of [[], ["nope"]]) {
      const result = await runProgram(multicall, args);
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toContain("server");
      expect(result.stderr).toContain("client");
    }
  });

  test("--version and --help of its own", async () => {
    const version = await runProgram(multicall, ["--version"]);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const help = await runProgram(multicall, ["--help"]);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain("socket-lab server");
  });
});
