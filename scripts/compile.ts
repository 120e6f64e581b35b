// One way to compile an entry point into a standalone binary, shared by build and release.

/** The two programs, each its own binary (`bun run build` -> dist/). */
export const ENTRY_POINTS = { server: "server.ts", client: "client.ts" } as const;

/** The one binary a release ships: both programs, picked by subcommand or by the name invoked. */
export const MULTICALL_ENTRY = "src/cli/multicall.ts";

export interface CompileOptions {
  entry: string;
  outfile: string;
  /** A Bun target such as bun-linux-arm64; omitted = this machine. */
  target?: string;
  /**
   * Embed JSC bytecode: start-up skips parsing, which halves it (a one-shot `client -m hi`: ~24 ms
   * to ~12 ms). Needs ESM output for the entry points' top-level await. Default: on.
   */
  bytecode?: boolean;
}

// Code splitting: each module reached only by import() becomes a chunk of its own, loaded when
// imported. Without it the bundler puts every module into one, and hoists every built-in any of
// them imports to its start: the multi-call binary then loaded node:crypto, node:fs, node:os,
// node:net and node:dns (the server's) before running `socket-lab client -m hi`, 8.4 ms against
// 5.3 for dist/client. With it both take the same time. (tests/startup.test.ts bundles this way.)
export const CODE_SPLITTING = true;

export async function buildBinary({ entry, outfile, target, bytecode = true }: CompileOptions): Promise<string> {
  const args = [
    "build",
    "--compile",
    "--minify",
    "--sourcemap=none",
    ...(CODE_SPLITTING ? ["--splitting"] : []),
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
