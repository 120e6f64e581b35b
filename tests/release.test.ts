// `bun run release` as a user gets it: five archives and a SHA256SUMS that verifies, each archive
// under the size limit and holding the multi-call binary in its target's file format, `server`
// and `client` beside it, README and LICENSE; the linux archives unpacked and run from a folder
// with no Bun and no node_modules (helpers/standalone.ts; linux-arm64 under qemu-user), under both
// names and as both subcommands.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { unzipSync } from "fflate";
import { archiveName, binaryName, CHECKSUM_FILE, RELEASE_TARGETS, releaseName } from "../scripts/release.ts";
import { CHILD_ENV, type Program, ROOT, runProgram } from "./helpers/processes.ts";
import { describeStandalonePair } from "./helpers/standalone.ts";

/** Cross-compiling may first download each target's Bun (about 30 MB each) from the npm registry. */
const BUILD_DEADLINE_MS = 600_000;
/** sha256sum and unpacking read the whole release, a quarter of a gigabyte: seconds on a busy machine. */
const ARCHIVE_TIMEOUT_MS = 120_000;
/** A Bun binary under qemu takes about a second to start here; allow for a busy machine. */
const EMULATED_DEADLINE_MS = 60_000;
/** The download a user takes for one platform, both programs in it (one program was 110 MB in 0.1). */
const MAX_ARCHIVE_BYTES = 60_000_000;
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
const TARGETS = Object.keys(RELEASE_TARGETS);

/** `bun run release ARGS` from the repository, as a user runs it. */
function runRelease(args: string[], env: Record<string, string | undefined> = CHILD_ENV) {
  return runProgram([process.execPath, join(ROOT, "scripts", "release.ts")], args, {
    cwd: ROOT,
    env,
    deadlineMs: BUILD_DEADLINE_MS,
  });
}

let releaseDir: string;
/** Each archive unpacked: target -> the folder inside it. */
const unpacked = new Map<string, string>();

beforeAll(async () => {
  releaseDir = await mkdtemp(join(tmpdir(), "socket-lab-release-"));
  const build = await runRelease(["--out-dir", releaseDir]);
  if (build.exitCode !== 0) throw new Error(`bun run release failed (${build.exitCode}):\n${build.stderr}`);
  for (const target of TARGETS) {
    const into = join(releaseDir, "unpacked", target);
    await mkdir(into, { recursive: true });
    const archive = join(releaseDir, archiveName(target));
    if (RELEASE_TARGETS[target]!.archive === "zip") {
      for (const [name, bytes] of Object.entries(unzipSync(new Uint8Array(await Bun.file(archive).arrayBuffer())))) {
        if (!name.endsWith("/")) await Bun.write(join(into, name), bytes);
      }
    } else {
      const tar = await runProgram(["tar", "-xzf", archive, "-C", into], [], { deadlineMs: ARCHIVE_TIMEOUT_MS });
      if (tar.exitCode !== 0) throw new Error(`tar -xzf ${archive} failed: ${tar.stderr}`);
    }
    unpacked.set(target, join(into, releaseName(target)));
  }
}, BUILD_DEADLINE_MS);

afterAll(async () => {
  if (releaseDir) await rm(releaseDir, { recursive: true, force: true });
});

describe("bun run release", () => {
  test(
    "writes one archive for each of the five targets, and SHA256SUMS verifies them",
    async () => {
      const expected = TARGETS.map(archiveName);
      expect(expected).toHaveLength(5);
      expect((await readdir(releaseDir)).filter((name) => name !== "unpacked").sort()).toEqual(
        [...expected, CHECKSUM_FILE].sort(),
      );
      const check = await runProgram(["sha256sum", "-c", CHECKSUM_FILE], [], {
        cwd: releaseDir,
        deadlineMs: ARCHIVE_TIMEOUT_MS,
      });
      expect(check.stderr).toBe("");
      expect(check.exitCode).toBe(0);
      expect(check.stdout.trim().split("\n").sort()).toEqual(expected.map((name) => `${name}: OK`).sort());
    },
    ARCHIVE_TIMEOUT_MS,
  );

  test(
    "a second build of the same commit packs the same bytes: SHA256SUMS can be checked against one's own build",
    async () => {
      // A tar.gz and the zip (each packed its own way); a fresh folder, so no file is reused.
      const again = await mkdtemp(join(tmpdir(), "socket-lab-release-again-"));
      try {
        const targets = ["linux-x64", "windows-x64"];
        // In another time zone (UTC+14): a zip entry's time has no zone, and must not take the builder's.
        const build = await runRelease(["--out-dir", again, ...targets], { ...CHILD_ENV, TZ: "Pacific/Kiritimati" });
        expect(build.exitCode).toBe(0);
        const sums = (dir: string) =>
          readFileSync(join(dir, CHECKSUM_FILE), "utf8")
            .split("\n")
            .filter((line) => targets.some((target) => line.endsWith(`  ${archiveName(target)}`)));
        expect(sums(again)).toHaveLength(2);
        expect(sums(again)).toEqual(sums(releaseDir));
      } finally {
        await rm(again, { recursive: true, force: true });
      }
    },
    BUILD_DEADLINE_MS,
  );

  test("every entry of an archive carries the last commit's time, in name order", async () => {
    const commitTime = (await runProgram(["git", "log", "-1", "--format=%ct"], [], { cwd: ROOT })).stdout.trim();
    const archive = join(releaseDir, archiveName("linux-x64"));
    const listing = await runProgram(["tar", "--list", "--verbose", "--full-time", "-zf", archive], [], {
      env: { ...CHILD_ENV, TZ: "UTC" },
      deadlineMs: ARCHIVE_TIMEOUT_MS,
    });
    const entries = listing.stdout.trim().split("\n");
    const stamp = new Date(Number(commitTime) * 1000).toISOString().replace("T", " ").slice(0, 19);
    expect(entries.filter((entry) => !entry.includes(` ${stamp} `))).toEqual([]);
    const names = entries.map((entry) => entry.split(` ${stamp} `)[1]!);
    expect(names).toEqual(names.toSorted());
    expect(names).toHaveLength(6);
  });

  test("a SOURCE_DATE_EPOCH that is not a number is refused before anything is built (exit 2)", async () => {
    const out = await mkdtemp(join(tmpdir(), "socket-lab-release-epoch-"));
    try {
      const run = await runRelease(["--out-dir", out, "linux-x64"], { ...CHILD_ENV, SOURCE_DATE_EPOCH: "yesterday" });
      expect(run.exitCode).toBe(2);
      expect(run.stderr).toContain('SOURCE_DATE_EPOCH must be seconds since 1970, not "yesterday"');
      expect(await readdir(out)).toEqual([]);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  test("each archive is at most 60 MB", () => {
    const sizes = TARGETS.map((target) => ({ target, bytes: Bun.file(join(releaseDir, archiveName(target))).size }));
    expect(sizes.every(({ bytes }) => bytes > 10_000_000)).toBe(true);
    expect(sizes.filter(({ bytes }) => bytes > MAX_ARCHIVE_BYTES)).toEqual([]);
  });

  test("each archive holds the binary, server and client beside it, README.md and LICENSE", () => {
    for (const target of TARGETS) {
      const folder = unpacked.get(target)!;
      const binary = binaryName(target);
      const windows = RELEASE_TARGETS[target]!.archive === "zip";
      const names = windows ? ["server.cmd", "client.cmd"] : ["server", "client"];
      expect({ target, files: existsSync(folder) && readdirSync(folder).sort() }).toEqual({
        target,
        files: [binary, ...names, "README.md", "LICENSE"].sort(),
      });
      for (const program of ["server", "client"]) {
        if (windows) {
          expect(readFileSync(join(folder, `${program}.cmd`), "utf8")).toBe(`@"%~dp0${binary}" ${program} %*\r\n`);
        } else {
          // A link, not a copy: the download stays one binary.
          expect(lstatSync(join(folder, program)).isSymbolicLink()).toBe(true);
          expect(readlinkSync(join(folder, program))).toBe(binary);
        }
      }
      if (!windows) expect(lstatSync(join(folder, binary)).mode & 0o111).toBe(0o111);
    }
  });

  test("each binary has its target's executable format", async () => {
    for (const target of TARGETS) {
      const { stdout } = await runProgram(["file", "-b", join(unpacked.get(target)!, binaryName(target))], []);
      expect({ target, format: stdout }).toEqual({ target, format: expect.stringMatching(FILE_FORMATS[target]!) });
    }
  });

  test("the macOS binaries carry a code signature (Apple silicon refuses to run unsigned code)", async () => {
    for (const target of ["darwin-x64", "darwin-arm64"]) {
      const binary = join(unpacked.get(target)!, binaryName(target));
      expect({ target, signed: (await machOLoadCommands(binary)).includes(LC_CODE_SIGNATURE) }).toEqual({
        target,
        signed: true,
      });
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

/**
 * The unpacked archive's programs, started through `run` (qemu for another CPU): under their own
 * names (the links), or as subcommands of the one binary.
 */
const namedPair = (target: string, run: (binary: string) => Program) => () => ({
  server: run(join(unpacked.get(target)!, "server")),
  client: run(join(unpacked.get(target)!, "client")),
});
const subcommandPair = (target: string, run: (binary: string) => Program) => () => ({
  server: [...run(join(unpacked.get(target)!, binaryName(target))), "server"],
  client: [...run(join(unpacked.get(target)!, binaryName(target))), "client"],
});

const onLinuxX64 = process.platform === "linux" && process.arch === "x64";
if (!onLinuxX64) console.warn(`skipping the linux-x64 runs: this is ${process.platform}-${process.arch}`);
describe.skipIf(!onLinuxX64)("release", () => {
  const native = (binary: string) => [binary];
  describeStandalonePair("linux-x64 archive, run natively as server and client", namedPair("linux-x64", native));
  describeStandalonePair(
    "linux-x64 archive, run natively as socket-lab server and socket-lab client",
    subcommandPair("linux-x64", native),
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
  // qemu passes the path it was given as the program's argv[0], so the links' names still count.
  const emulated = (binary: string) => [QEMU_AARCH64!, "-L", ARM64_SYSROOT, binary];
  describeStandalonePair(
    "linux-arm64 archive, run under qemu-aarch64 as server and client",
    namedPair("linux-arm64", emulated),
    EMULATED_DEADLINE_MS,
  );
  describeStandalonePair(
    "linux-arm64 archive, run under qemu-aarch64 as socket-lab server and socket-lab client",
    subcommandPair("linux-arm64", emulated),
    EMULATED_DEADLINE_MS,
  );
});
