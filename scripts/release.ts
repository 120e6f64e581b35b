// bun run release [--out-dir release] [TARGET...]: standalone server and client binaries for every
// release target (or only the ones named), and a SHA256SUMS that `sha256sum -c SHA256SUMS` verifies.
// Cross-compiling downloads each target's Bun from the npm registry once (cached by Bun).
import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import pkg from "../package.json" with { type: "json" };
import { buildBinary, ENTRY_POINTS } from "./compile.ts";

export const CHECKSUM_FILE = "SHA256SUMS";
const ARTIFACT_PREFIX = "socket-lab-";

interface ReleaseTarget {
  bunTarget: string;
  extension: "" | ".exe";
  /**
   * Embedded bytecode only where a binary is run after building (tests/release.test.ts: linux-x64
   * natively, linux-arm64 under qemu). Cross-compiled bytecode made binaries crash at launch in
   * older Bun (oven-sh/bun #18416, #18307); it is only a start-up gain, not worth an untested risk.
   */
  bytecode: boolean;
}

export const RELEASE_TARGETS: Record<string, ReleaseTarget> = {
  "linux-x64": { bunTarget: "bun-linux-x64", extension: "", bytecode: true },
  "linux-arm64": { bunTarget: "bun-linux-arm64", extension: "", bytecode: true },
  "darwin-x64": { bunTarget: "bun-darwin-x64", extension: "", bytecode: false },
  "darwin-arm64": { bunTarget: "bun-darwin-arm64", extension: "", bytecode: false },
  "windows-x64": { bunTarget: "bun-windows-x64", extension: ".exe", bytecode: false },
};

export function artifactName(program: keyof typeof ENTRY_POINTS, target: string): string {
  return `${ARTIFACT_PREFIX}${program}-${target}${RELEASE_TARGETS[target]!.extension}`;
}

/** `<sha256>  <name>` lines, the format `sha256sum -c` reads. */
async function sha256Line(dir: string, name: string): Promise<string> {
  const hasher = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(join(dir, name)).stream()) hasher.update(chunk);
  return `${hasher.digest("hex")}  ${name}\n`;
}

async function artifactsIn(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.startsWith(ARTIFACT_PREFIX)).sort();
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

async function main(): Promise<void> {
  const { values, positionals } = parseCommandLine();
  const outDir = values["out-dir"];
  const unknown = positionals.filter((target) => !(target in RELEASE_TARGETS));
  if (unknown.length > 0) usageError(`unknown target ${unknown.join(", ")}`);
  const targets = positionals.length > 0 ? positionals : Object.keys(RELEASE_TARGETS);

  await mkdir(outDir, { recursive: true });
  // A full release starts clean, so SHA256SUMS never vouches for a binary of an older build.
  // Naming targets adds or replaces only those; the checksums always cover the whole folder.
  if (positionals.length === 0) {
    for (const name of [...(await artifactsIn(outDir)), CHECKSUM_FILE]) await rm(join(outDir, name), { force: true });
  }

  for (const target of targets) {
    const { bunTarget, bytecode } = RELEASE_TARGETS[target]!;
    for (const [program, entry] of Object.entries(ENTRY_POINTS) as Array<[keyof typeof ENTRY_POINTS, string]>) {
      const outfile = join(outDir, artifactName(program, target));
      await buildBinary({ entry, outfile, target: bunTarget, bytecode });
      console.error(`built ${outfile}${bytecode ? " (bytecode)" : ""}`);
    }
  }

  const names = await artifactsIn(outDir);
  const lines = await Promise.all(names.map((name) => sha256Line(outDir, name)));
  await Bun.write(join(outDir, CHECKSUM_FILE), lines.join(""));
  console.error(`socket-lab ${pkg.version}: ${names.length} binaries and ${CHECKSUM_FILE} in ${outDir}/`);
}

if (import.meta.main) await main();
