// `bun run release` as a user gets it: ten binaries and a SHA256SUMS that verifies, each in its
// target's file format, and the linux pairs running from a folder with no Bun and no node_modules
// (linux-arm64 under qemu-user).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../package.json" with { type: "json" };
import { artifactName, CHECKSUM_FILE, RELEASE_TARGETS } from "../scripts/release.ts";
import { ROOT, runProgram, startServerProcess, type Program } from "./helpers/processes.ts";

/** Cross-compiling may first download each target's Bun (about 30 MB each) from the npm registry. */
const BUILD_DEADLINE_MS = 600_000;
/** A Bun binary under qemu takes about a second to start here; allow for a busy machine. */
const EMULATED_DEADLINE_MS = 60_000;
const QEMU_AARCH64 = Bun.which("qemu-aarch64");
const ARM64_SYSROOT = "/usr/aarch64-linux-gnu";
const ARM64_LOADER = join(ARM64_SYSROOT, "lib", "ld-linux-aarch64.so.1");

const FILE_FORMATS: Record<string, RegExp> = {
  "linux-x64": /ELF 64-bit LSB [\w ]*executable, x86-64/,
  "linux-arm64": /ELF 64-bit LSB [\w ]*executable, ARM aarch64/,
  "darwin-x64": /Mach-O 64-bit x86_64 executable/,
  "darwin-arm64": /Mach-O 64-bit arm64 executable/,
  "windows-x64": /PE32\+ executable \(console\) x86-64, for MS Windows/,
};

let releaseDir: string;
/** A user's folder: no package.json, no node_modules, but a .env and a bunfig.toml of their own. */
let userDir: string;
/** The same folder without those two files, to compare against. */
let plainDir: string;
/**
 * The binaries' PATH: an empty folder. Not /usr/bin, where a machine (this one) may have a Bun:
 * the binaries must need neither Bun nor anything else from PATH.
 */
let emptyPathDir: string;

beforeAll(async () => {
  releaseDir = await mkdtemp(join(tmpdir(), "socket-lab-release-"));
  const build = await runProgram([process.execPath, join(ROOT, "scripts", "release.ts")], ["--out-dir", releaseDir], {
    cwd: ROOT,
    deadlineMs: BUILD_DEADLINE_MS,
  });
  if (build.exitCode !== 0) throw new Error(`bun run release failed (${build.exitCode}):\n${build.stderr}`);

  userDir = await mkdtemp(join(tmpdir(), "socket-lab-user-"));
  plainDir = await mkdtemp(join(tmpdir(), "socket-lab-plain-"));
  emptyPathDir = await mkdtemp(join(tmpdir(), "socket-lab-path-"));
  // If the binaries loaded these, NO_COLOR would change --help and the preload would print.
  await Bun.write(join(userDir, ".env"), "NO_COLOR=1\n");
  await Bun.write(join(userDir, "bunfig.toml"), 'preload = ["./preload.ts"]\n');
  await Bun.write(join(userDir, "preload.ts"), 'console.error("PRELOADED FROM THE WORKING DIRECTORY");\n');
}, BUILD_DEADLINE_MS);

afterAll(async () => {
  for (const dir of [releaseDir, userDir, plainDir, emptyPathDir]) if (dir) await rm(dir, { recursive: true, force: true });
});

describe("bun run release", () => {
  test("writes a server and a client for each of the five targets, and SHA256SUMS verifies them", async () => {
    const expected = Object.keys(RELEASE_TARGETS).flatMap((target) => [
      artifactName("server", target),
      artifactName("client", target),
    ]);
    expect(expected.length).toBe(10);
    expect((await readdir(releaseDir)).sort()).toEqual([...expected, CHECKSUM_FILE].sort());

    const check = await runProgram(["sha256sum", "-c", CHECKSUM_FILE], [], { cwd: releaseDir });
    expect(check.stderr).toBe("");
    expect(check.exitCode).toBe(0);
    expect(check.stdout.trim().split("\n").sort()).toEqual(expected.map((name) => `${name}: OK`).sort());
  });

  test("each binary has its target's executable format", async () => {
    for (const target of Object.keys(RELEASE_TARGETS)) {
      for (const program of ["server", "client"] as const) {
        const name = artifactName(program, target);
        const { stdout } = await runProgram(["file", "-b", join(releaseDir, name)], []);
        expect({ name, format: stdout }).toEqual({ name, format: expect.stringMatching(FILE_FORMATS[target]!) });
      }
    }
  });
});

/** The checks a user's first minutes make, from a folder with no Bun on PATH and no node_modules. */
function describeStandalonePair(target: string, run: (binary: string) => Program, deadlineMs: number) {
  // A test runs up to four programs, each with its own deadline, which must fire first.
  const testTimeoutMs = 5 * deadlineMs;
  // Called inside tests: the folders exist only after beforeAll.
  const env = () => ({ PATH: emptyPathDir });
  const server = () => run(join(releaseDir, artifactName("server", target)));
  const client = () => run(join(releaseDir, artifactName("client", target)));

  test("--version prints the embedded package version; the folder's .env and bunfig.toml are ignored", async () => {
    for (const program of [server(), client()]) {
      const result = await runProgram(program, ["--version"], { cwd: userDir, env: env(), deadlineMs });
      expect(result).toEqual({ exitCode: 0, stdout: `${pkg.version}\n`, stderr: "" });
    }
  }, testTimeoutMs);

  test("--help shows usage, the same with or without the folder's .env", async () => {
    for (const program of [server(), client()]) {
      const inUserDir = await runProgram(program, ["--help"], { cwd: userDir, env: env(), deadlineMs });
      const inPlainDir = await runProgram(program, ["--help"], { cwd: plainDir, env: env(), deadlineMs });
      expect(inUserDir.exitCode).toBe(0);
      expect(inUserDir.stdout).toContain("--port");
      expect(inUserDir.stderr).toBe("");
      expect(inUserDir.stdout).toBe(inPlainDir.stdout);
    }
  }, testTimeoutMs);

  test("a message makes the round trip from client to server and back; the server stops with 0", async () => {
    const running = await startServerProcess([], server(), { cwd: userDir, env: env(), deadlineMs });
    try {
      const result = await runProgram(client(), ["--port", String(running.port), "-m", "hi"], { cwd: userDir, env: env(), deadlineMs });
      expect(result.stdout).toBe("Message 'hi' received successfully\n");
      expect(result.exitCode).toBe(0);
      await running.stdout.waitFor(/\] hi\n/, deadlineMs);
    } finally {
      expect(await running.stop()).toBe(0);
    }
  }, testTimeoutMs);

  test("a refused connection exits 3", async () => {
    // Port 1 on loopback: nothing listens there on a test machine.
    const result = await runProgram(client(), ["--port", "1", "-m", "hi"], { cwd: userDir, env: env(), deadlineMs });
    expect(result.exitCode).toBe(3);
    expect(result.stderr).toContain("[REFUSED] Connection refused. Make sure the server is running.\n");
  }, testTimeoutMs);
}

const onLinuxX64 = process.platform === "linux" && process.arch === "x64";
if (!onLinuxX64) console.warn(`skipping the linux-x64 runs: this is ${process.platform}-${process.arch}`);
describe.skipIf(!onLinuxX64)("linux-x64 binaries, run natively", () => {
  describeStandalonePair("linux-x64", (binary) => [binary], 10_000);
});

// qemu-user runs the arm64 binaries with Debian's arm64 C library (.ci/run installs both).
const qemuMissing = !QEMU_AARCH64
  ? "qemu-aarch64 (Debian: qemu-user)"
  : !existsSync(ARM64_LOADER)
    ? `${ARM64_LOADER} (Debian: libc6-arm64-cross)`
    : "";
if (qemuMissing) console.warn(`skipping the linux-arm64 runs: ${qemuMissing} is not installed`);
describe.skipIf(qemuMissing !== "")("linux-arm64 binaries, run under qemu-aarch64", () => {
  describeStandalonePair("linux-arm64", (binary) => [QEMU_AARCH64!, "-L", ARM64_SYSROOT, binary], EMULATED_DEADLINE_MS);
});
