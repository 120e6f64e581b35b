// One way to compile an entry point into a standalone binary, shared by build and release.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";

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

/**
 * Modules an entry import()s that are bundled on their own first, and then into the binary as that
 * bundle. Splitting gives every set of importers its own chunk: the server and the client share
 * framing, sinks, logging and address code, so in one bundle the multi-call binary's client start
 * loaded 11 chunks, most of them slivers cut by what the server also uses, and `socket-lab client
 * -m hi` took 1.06x dist/client's time (0.6 ms; `bench/alternate.ts --runs 300`). Bundled apart, the
 * server has copies of what it shares and the client's start loads what dist/client's does
 * (1.01x). A module bundled apart keeps its own copy of each shared module's state: it must not
 * hand objects to the entry's copies, nor take theirs (the server's command line takes strings).
 */
export const BUNDLED_APART: Readonly<Record<string, readonly string[]>> = {
  [MULTICALL_ENTRY]: ["src/cli/server-cli.ts"],
};

const ROOT = resolve(import.meta.dir, "..");

/** Chunks named after the module that starts each (client-XXXX.js), as `bun build` names them. */
const NAMING = { chunk: "[name]-[hash].[ext]" };

/**
 * Bundles `entry` as every binary is bundled (splitting, ESM, BUNDLED_APART); `config` adds to it
 * or overrides it (`compile` makes the standalone executable; tests read the chunks unminified).
 */
export async function bundle(entry: string, config: Partial<Bun.BuildConfig> = {}): Promise<Bun.BuildOutput> {
  const common = { target: "bun", format: "esm", splitting: CODE_SPLITTING, naming: NAMING, minify: true } as const;
  const work = await mkdtemp(join(tmpdir(), "socket-lab-build-"));
  try {
    const apart = BUNDLED_APART[relative(ROOT, resolve(entry))] ?? [];
    const prebuilt = new Map<string, string>();
    for (const [index, module] of apart.entries()) {
      const output = await build({ ...common, entrypoints: [join(ROOT, module)], outdir: join(work, String(index)) });
      prebuilt.set(join(ROOT, module), output.outputs.find((file) => file.kind === "entry-point")!.path);
    }
    const plugin: Bun.BunPlugin = {
      name: "bundled-apart",
      setup(builder) {
        builder.onResolve({ filter: /\.ts$/ }, ({ path, importer }) => {
          const bundled = prebuilt.get(resolve(dirname(importer), path));
          return bundled ? { path: bundled } : undefined;
        });
      },
    };
    return await build({
      ...common,
      sourcemap: "none",
      plugins: prebuilt.size > 0 ? [plugin] : [],
      ...config,
      entrypoints: [entry],
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function build(config: Bun.BuildConfig): Promise<Bun.BuildOutput> {
  const result = await Bun.build({ ...config, throw: false });
  if (!result.success) {
    throw new Error(`bundling ${config.entrypoints.join(", ")} failed:\n${result.logs.map(String).join("\n")}`);
  }
  return result;
}

export async function buildBinary({ entry, outfile, target, bytecode = true }: CompileOptions): Promise<string> {
  await bundle(entry, {
    // Bytecode needs ESM output for the entry points' top-level await (bundle's format).
    bytecode,
    compile: {
      outfile: resolve(outfile),
      ...(target ? { target: target as Bun.Build.CompileTarget } : {}),
      // A user's .env or bunfig.toml in the working directory must not change the binary.
      autoloadDotenv: false,
      autoloadBunfig: false,
    },
  });
  return outfile;
}
