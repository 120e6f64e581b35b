// One way to compile an entry point into a standalone binary, shared by build and release.
import { realpathSync } from "node:fs";
import { basename, dirname, join, posix, relative, resolve, sep } from "node:path";

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
 * The client's modules that a one-shot (`client -m hi`, src/client/one-shot.ts) import()s only
 * off its usual way: the whole program, and the rest of the one-shot. Bundled apart (below), they
 * share no chunk with the one-shot, whose start then loads one chunk holding only what it runs.
 * Bundled with it, the modules both use (exit codes, defaults, the ack check, status lines) were a
 * chunk of their own with everything the whole program takes from them: four chunks more, and
 * 0.1 ms more for a compiled `client -m hi` (400 alternating runs, BENCHMARKS.md, round sixteen).
 * Each takes strings, numbers, plain objects and Bun's socket from the one-shot, no object of the
 * one-shot's copies of those modules.
 */
const CLIENT_APART = ["src/client/cli.ts", "src/client/one-shot-rest.ts"] as const;

/**
 * Modules an entry import()s that are bundled on their own first, and then into the binary as that
 * bundle. Splitting gives every set of importers its own chunk: the server and the client share
 * framing, sinks, logging and address code, so in one bundle the multi-call binary's client start
 * loaded 11 chunks, most of them slivers cut by what the server also uses, and `socket-lab client
 * -m hi` took 1.06-1.07x dist/client's time (0.65 ms; fresh builds, `bench/alternate.ts --runs
 * 400`). Bundled apart, the server has copies of what it shares and the client's start loads what
 * dist/client's does (1.02-1.03x). A module bundled apart keeps its own copy of each shared
 * module's state: it must not hand objects to the entry's copies, nor take theirs (the server's
 * command line takes strings). Paths are relative to the repository, with `/`.
 */
export const BUNDLED_APART: Readonly<Record<string, readonly string[]>> = {
  [MULTICALL_ENTRY]: ["src/cli/server-cli.ts", ...CLIENT_APART],
  [ENTRY_POINTS.client]: CLIENT_APART,
};

const ROOT = realpathSync(resolve(import.meta.dir, ".."));

/**
 * Chunks named after the module that starts each (client-XXXX.js), as `bun build` names them. A
 * chunk of a module bundled apart carries two hashes (server-cli-XXXX-YYYY.js): its first pass's,
 * then the binary's.
 */
const NAMING = { chunk: "[name]-[hash].[ext]" };

/** The plugin namespace that serves the first pass's chunks to the second, from memory. */
const APART = "bundled-apart";

/** A path as BUNDLED_APART spells it: relative to the repository, through links, with `/`. */
const repoPath = (path: string) => relative(ROOT, realpathSync(path)).split(sep).join("/");

/**
 * Bundles `entry` as every binary is bundled (splitting, ESM, BUNDLED_APART); `config` adds to it
 * or overrides it for the entry's own pass (`compile` makes the standalone executable; tests read
 * the chunks unminified). A module bundled apart is always bundled minified, without `config`: it
 * becomes part of the entry's bundle, where `config` applies.
 */
export async function bundle(entry: string, config: Partial<Bun.BuildConfig> = {}): Promise<Bun.BuildOutput> {
  const common = { target: "bun", format: "esm", splitting: CODE_SPLITTING, naming: NAMING, minify: true } as const;
  // Each module bundled apart, by its path -> the name of its first pass's entry chunk; the text of
  // every chunk of those passes, by name. Served from memory, with no output directory, the first
  // passes leave no temporary files, and no path that differs between builds feeds a chunk's hash:
  // a release builds to the same bytes every time.
  const apart = new Map<string, string>();
  const texts = new Map<string, string>();
  for (const [index, module] of (BUNDLED_APART[repoPath(entry)] ?? []).entries()) {
    const output = await build({ ...common, entrypoints: [join(ROOT, module)] });
    for (const file of output.outputs) {
      // One folder per module bundled apart, so that two passes' chunks cannot share a name.
      const name = `/${index}/${basename(file.path)}`;
      texts.set(name, await file.text());
      if (file.kind === "entry-point") apart.set(module, name);
    }
  }
  const substituted = new Set<string>();
  const plugin: Bun.BunPlugin = {
    name: APART,
    setup(builder) {
      // Bun asks the file namespace's resolvers for every import, also from a module this plugin
      // loads: the importer says which it is.
      builder.onResolve({ filter: /^\./ }, ({ path, importer }) => {
        // A first pass's chunks import one another by relative name.
        if (texts.has(importer)) return { path: posix.join(posix.dirname(importer), path), namespace: APART };
        // An import of a module bundled apart, however spelled (with or without .ts, through a link).
        let module: string;
        try {
          module = repoPath(Bun.resolveSync(path, dirname(importer)));
        } catch {
          return undefined; // Bun reports what it cannot resolve itself.
        }
        const name = apart.get(module);
        if (name === undefined) return undefined;
        substituted.add(module);
        return { path: name, namespace: APART };
      });
      builder.onLoad({ filter: /.*/, namespace: APART }, ({ path }) => {
        const contents = texts.get(path);
        if (contents === undefined) throw new Error(`no chunk ${path} in a module bundled apart`);
        return { contents, loader: "js" };
      });
    },
  };
  const result = await build({
    ...common,
    sourcemap: "none",
    plugins: apart.size > 0 ? [plugin] : [],
    ...config,
    entrypoints: [entry],
  });
  // A module listed but never imported (renamed, or imported in a way the plugin did not see)
  // would silently put the server back into the shared chunks.
  const missed = [...apart.keys()].filter((module) => !substituted.has(module));
  if (missed.length > 0) throw new Error(`${entry} never imports ${missed.join(", ")} (BUNDLED_APART)`);
  return result;
}

async function build(config: Bun.BuildConfig): Promise<Bun.BuildOutput> {
  const result = await Bun.build({ ...config, throw: false });
  if (!result.success) {
    // Bun.inspect keeps each message's file, line and column.
    const logs = result.logs.map((log) => Bun.inspect(log)).join("\n");
    throw new Error(`bundling ${config.entrypoints.join(", ")} failed:\n${logs}`);
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
