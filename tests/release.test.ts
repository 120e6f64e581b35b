// `bun run release` as a user gets it: ten binaries and a SHA256SUMS that verifies, each in its
// target's file format, and the linux pairs running from a folder with no Bun and no node_modules
// (helpers/standalone.ts; linux-arm64 under qemu-user).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { artifactName, CHECKSUM_FILE, RELEASE_TARGETS } from "../scripts/release.ts";
import { type Program, ROOT, runProgram } from "./helpers/processes.ts";
import { describeStandalonePair } from "./helpers/standalone.ts";

/** Cross-compiling may first download each target's Bun (about 30 MB each) from the npm registry. */
const BUILD_DEADLINE_MS = 600_000;
/** sha256sum reads the whole release, about a gigabyte: seconds on a busy machine. */
const CHECKSUM_TIMEOUT_MS = 60_000;
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

beforeAll(async () => {
  releaseDir = await mkdtemp(join(tmpdir(), "socket-lab-release-"));
  const build = await runProgram([process.execPath, join(ROOT, "scripts", "release.ts")], ["--out-dir", releaseDir], {
    cwd: ROOT,
    deadlineMs: BUILD_DEADLINE_MS,
  });
  if (build.exitCode !== 0) throw new Error(`bun run release failed (${build.exitCode}):\n${build.stderr}`);
}, BUILD_DEADLINE_MS);

afterAll(async () => {
  if (releaseDir) await rm(releaseDir, { recursive: true, force: true });
});

describe("bun run release", () => {
  test(
    "writes a server and a client for each of the five targets, and SHA256SUMS verifies them",
    async () => {
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
    },
    CHECKSUM_TIMEOUT_MS,
  );

  test("each binary has its target's executable format", async () => {
    for (const target of Object.keys(RELEASE_TARGETS)) {
      for (const program of ["server", "client"] as const) {
        const name = artifactName(program, target);
        const { stdout } = await runProgram(["file", "-b", join(releaseDir, name)], []);
        expect({ name, format: stdout }).toEqual({ name, format: expect.stringMatching(FILE_FORMATS[target]!) });
      }
    }
  });

  test("the macOS binaries carry a code signature (Apple silicon refuses to run unsigned code)", async () => {
    for (const target of ["darwin-x64", "darwin-arm64"]) {
      for (const program of ["server", "client"] as const) {
        const name = artifactName(program, target);
        expect({ name, signed: (await machOLoadCommands(join(releaseDir, name))).includes(LC_CODE_SIGNATURE) }).toEqual(
          {
            name,
            signed: true,
          },
        );
      }
    }
  });
});

const LC_CODE_SIGNATURE = 0x1d;

/** The load command types of a 64-bit little-endian Mach-O file (its header says how many). */
async function machOLoadCommands(path: string): Promise<number[]> {
  const header = new DataView(await Bun.file(path).slice(0, 32).arrayBuffer());
  expect(header.getUint32(0, true)).toBe(0xfeedfacf); // MH_MAGIC_64
  const count = header.getUint32(16, true);
  const size = header.getUint32(20, true);
  const commands = new DataView(
    await Bun.file(path)
      .slice(32, 32 + size)
      .arrayBuffer(),
  );
  const types: number[] = [];
  for (let offset = 0, i = 0; i < count; i++, offset += commands.getUint32(offset + 4, true)) {
    types.push(commands.getUint32(offset, true));
  }
  return types;
}

/** The release's pair for `target`, each program started through `run` (qemu for another CPU). */
const releasePair = (target: string, run: (binary: string) => Program) => () => ({
  server: run(join(releaseDir, artifactName("server", target))),
  client: run(join(releaseDir, artifactName("client", target))),
});

const onLinuxX64 = process.platform === "linux" && process.arch === "x64";
if (!onLinuxX64) console.warn(`skipping the linux-x64 runs: this is ${process.platform}-${process.arch}`);
describe.skipIf(!onLinuxX64)("release", () => {
  describeStandalonePair(
    "linux-x64 binaries, run natively",
    releasePair("linux-x64", (binary) => [binary]),
  );
});

// qemu-user runs the arm64 binaries with Debian's arm64 C library (.ci/run installs both).
const qemuMissing = !QEMU_AARCH64
  ? "qemu-aarch64 (Debian: qemu-user)"
  : !existsSync(ARM64_LOADER)
    ? `${ARM64_LOADER} (Debian: libc6-arm64-cross)`
    : "";
if (qemuMissing) console.warn(`skipping the linux-arm64 runs: ${qemuMissing} is not installed`);
describe.skipIf(qemuMissing !== "")("release", () => {
  describeStandalonePair(
    "linux-arm64 binaries, run under qemu-aarch64",
    releasePair("linux-arm64", (binary) => [QEMU_AARCH64!, "-L", ARM64_SYSROOT, binary]),
    EMULATED_DEADLINE_MS,
  );
});
