// One way to compile an entry point into a standalone binary, shared by build and release.

export const ENTRY_POINTS = { server: "server.ts", client: "client.ts" } as const;

export interface CompileOptions {
  entry: string;
  outfile: string;
  /** A Bun target such as bun-linux-arm64; omitted = this machine. */
  target?: string;
  /**
   * Embed JSC bytecode so start-up skips parsing (about half the client's --version time here).
   * Needs ESM output, since the entry points use top-level await. Default: on.
   */
  bytecode?: boolean;
}

export async function buildBinary({ entry, outfile, target, bytecode = true }: CompileOptions): Promise<string> {
  const args = [
    "build",
    "--compile",
    "--minify",
    "--sourcemap=none",
    ...(bytecode ? ["--bytecode", "--format=esm"] : []),
    // A user's .env or bunfig.toml in the working directory must not change the binary.
    "--no-compile-autoload-dotenv",
    "--no-compile-autoload-bunfig",
    ...(target ? [`--target=${target}`] : []),
    `--outfile=${outfile}`,
    entry,
  ];
  const build = Bun.spawnSync([process.execPath, ...args], { stdout: "pipe", stderr: "pipe" });
  if (build.exitCode !== 0) {
    throw new Error(`bun ${args.join(" ")} failed:\n${build.stderr.toString()}${build.stdout.toString()}`);
  }
  return outfile;
}
