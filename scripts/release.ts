// bun run release [--out-dir release] [TARGET...]: one archive per release target (or only the
// ones named), each holding the multi-call `socket-lab` binary, `server` and `client` links to it
// (.cmd shims on Windows), README.md and LICENSE, and a SHA256SUMS over the archives that
// `sha256sum -c SHA256SUMS` verifies. Cross-compiling downloads each target's Bun from the npm
// registry once (cached by Bun).
import { chmod, copyFile, mkdir, readdir, rm, symlink } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { zipSync } from "fflate";
import pkg from "../package.json" with { type: "json" };
import { buildBinary, MULTICALL_ENTRY } from "./compile.ts";

export const CHECKSUM_FILE = "SHA256SUMS";
const ARTIFACT_PREFIX = "socket-lab-";

interface ReleaseTarget {
  bunTarget: string;
  archive: "tar.gz" | "zip";
  /**
   * Embedded bytecode only where a binary is run after building (tests/release.test.ts: linux-x64
   * natively, linux-arm64 under qemu). Cross-compiled bytecode made binaries crash at launch in
   * older Bun (oven-sh/bun #18416, #18307); it is only a start-up gain, not worth an untested risk.
   */
  bytecode: boolean;
}

export const RELEASE_TARGETS: Record<string, ReleaseTarget> = {
  "linux-x64": { bunTarget: "bun-linux-x64", archive: "tar.gz", bytecode: true },
  "linux-arm64": { bunTarget: "bun-linux-arm64", archive: "tar.gz", bytecode: true },
  "darwin-x64": { bunTarget: "bun-darwin-x64", archive: "tar.gz", bytecode: false },
  "darwin-arm64": { bunTarget: "bun-darwin-arm64", archive: "tar.gz", bytecode: false },
  "windows-x64": { bunTarget: "bun-windows-x64", archive: "zip", bytecode: false },
};

/** The folder inside each archive, and the archive's name without its extension. */
export function releaseName(target: string): string {
  return `${ARTIFACT_PREFIX}${pkg.version}-${target}`;
}

export function archiveName(target: string): string {
  return `${releaseName(target)}.${RELEASE_TARGETS[target]!.archive}`;
}

/** The binary's name inside the archive. */
export function binaryName(target: string): string {
  return RELEASE_TARGETS[target]!.archive === "zip" ? "socket-lab.exe" : "socket-lab";
}

/** `<sha256>  <name>` lines, the format `sha256sum -c` reads. */
async function sha256Line(dir: string, name: string): Promise<string> {
  const hasher = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(join(dir, name)).stream()) hasher.update(chunk);
  return `${hasher.digest("hex")}  ${name}\n`;
}

/** This version's archives in `dir`: an older release's left there is neither removed nor vouched for. */
async function artifactsIn(dir: string): Promise<string[]> {
  const archives = new Set(Object.keys(RELEASE_TARGETS).map(archiveName));
  return (await readdir(dir)).filter((name) => archives.has(name)).sort();
}

function usageError(message: string): never {
  console.error(`release: ${message}`);
  console.error(`usage: bun run release [--out-dir DIR] [${Object.keys(RELEASE_TARGETS).join("|")}]...`);
  process.exit(2);
}

function parseCommandLine() {
  try {
    return parseArgs({
      args: process.argv.slice(2),
      options: { "out-dir": { type: "string", default: "release" } },
      allowPositionals: true,
    });
  } catch (error) {
    return usageError((error as Error).message);
  }
}

/** `server` and `client` beside the binary: symbolic links, or on Windows .cmd shims that call it. */
async function addProgramNames(folder: string, target: string): Promise<void> {
  const binary = binaryName(target);
  for (const program of ["server", "client"]) {
    if (RELEASE_TARGETS[target]!.archive === "zip") {
      await Bun.write(join(folder, `${program}.cmd`), `@"%~dp0${binary}" ${program} %*\r\n`);
    } else {
      await symlink(binary, join(folder, program));
    }
  }
}

/**
 * The time every entry of an archive carries: SOURCE_DATE_EPOCH if set (the reproducible-builds
 * convention), else the last commit's, so that the same commit packs to the same bytes and
 * SHA256SUMS can be checked against a build of one's own. Outside a git checkout (a source
 * download), the time now, said on stderr. Seconds since 1970.
 */
function archiveTime(): number {
  const fromEnv = process.env.SOURCE_DATE_EPOCH;
  if (fromEnv !== undefined && fromEnv !== "") {
    // The convention says to refuse a value that is not a number, not to guess.
    if (!/^\d+$/.test(fromEnv)) usageError(`SOURCE_DATE_EPOCH must be seconds since 1970, not "${fromEnv}"`);
    return Number(fromEnv);
  }
  const git = Bun.spawnSync(["git", "log", "-1", "--format=%ct"], { stdout: "pipe", stderr: "pipe" });
  const commitTime = Number(git.stdout.toString().trim());
  if (git.exitCode === 0 && Number.isSafeInteger(commitTime) && commitTime > 0) return commitTime;
  console.error(
    "release: no git commit to date the archives by; they carry the time now (set SOURCE_DATE_EPOCH to fix it)",
  );
  return Math.floor(Date.now() / 1000);
}

/** Packs `folder` (inside `outDir`) as the target's archive; entries keep the folder's name. */
async function pack(outDir: string, target: string, time: number): Promise<void> {
  const name = releaseName(target);
  const archive = join(outDir, archiveName(target));
  if (RELEASE_TARGETS[target]!.archive === "tar.gz") {
    // Owner and modes as a user expects them after unpacking, not this machine's uid or umask.
    // Entries in name order, one time stamp, no name or time in the gzip header: the same bytes
    // every build.
    const reproducible = ["--sort=name", `--mtime=@${time}`, "--mode=u=rwX,go=rX", "--use-compress-program=gzip -n"];
    const tar = Bun.spawnSync(
      ["tar", "--owner=0", "--group=0", "--numeric-owner", ...reproducible, "-cf", archive, "-C", outDir, name],
      { stderr: "pipe" },
    );
    if (tar.exitCode !== 0) throw new Error(`tar failed: ${tar.stderr.toString()}`);
    return;
  }
  // A zip entry's time has no zone: fflate takes the Date's local fields (main() runs in UTC).
  const mtime = new Date(time * 1000);
  const files: Record<string, [Uint8Array, { mtime: Date }]> = {};
  for (const file of (await readdir(join(outDir, name))).sort()) {
    const bytes = new Uint8Array(await Bun.file(join(outDir, name, file)).arrayBuffer());
    files[`${name}/${file}`] = [bytes, { mtime }];
  }
  await Bun.write(archive, zipSync(files, { level: 9 }));
}

async function main(): Promise<void> {
  const { values, positionals } = parseCommandLine();
  const outDir = values["out-dir"];
  const unknown = positionals.filter((target) => !(target in RELEASE_TARGETS));
  if (unknown.length > 0) usageError(`unknown target ${unknown.join(", ")}`);
  const targets = positionals.length > 0 ? positionals : Object.keys(RELEASE_TARGETS);
  const time = archiveTime();
  // Zip entry times are local times (pack): in UTC, the zip is the same bytes in every time zone.
  process.env.TZ = "UTC";

  await mkdir(outDir, { recursive: true });
  // A full release starts clean, so SHA256SUMS never vouches for an archive of an older build.
  // Naming targets adds or replaces only those; the checksums always cover the whole folder.
  if (positionals.length === 0) {
    for (const name of [...(await artifactsIn(outDir)), CHECKSUM_FILE]) {
      await rm(join(outDir, name), { recursive: true, force: true });
    }
  }

  for (const target of targets) {
    const { bunTarget, bytecode } = RELEASE_TARGETS[target]!;
    const folder = join(outDir, releaseName(target));
    await rm(folder, { recursive: true, force: true });
    await mkdir(folder);
    const binary = join(folder, binaryName(target));
    await buildBinary({ entry: MULTICALL_ENTRY, outfile: binary, target: bunTarget, bytecode });
    await chmod(binary, 0o755);
    await addProgramNames(folder, target);
    for (const doc of ["README.md", "LICENSE"]) await copyFile(doc, join(folder, doc));
    await pack(outDir, target, time);
    await rm(folder, { recursive: true, force: true });
    const size = Bun.file(join(outDir, archiveName(target))).size / 1024 ** 2;
    console.error(`built ${archiveName(target)} (${size.toFixed(1)} MiB${bytecode ? ", bytecode" : ""})`);
  }

  const names = await artifactsIn(outDir);
  const lines = await Promise.all(names.map((name) => sha256Line(outDir, name)));
  await Bun.write(join(outDir, CHECKSUM_FILE), lines.join(""));
  console.error(`socket-lab ${pkg.version}: ${names.length} archives and ${CHECKSUM_FILE} in ${outDir}/`);
}

if (import.meta.main) await main();
