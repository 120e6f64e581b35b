// What a program loads before it does anything: a bundler hoists a static import of a built-in
// to the start of its chunk, even from a module only import()ed later, and some built-ins cost a
// one-shot `client -m hi` more than its whole round trip (node:crypto ~7 ms, node:util ~3 ms,
// node:fs ~2 ms, node:tty ~7 ms). Not a timing test (bun run bench measures the time): the
// chunks' own import lines say what every start pays for.
import { expect, test } from "bun:test";
import { basename, join } from "node:path";
import { bundle, ENTRY_POINTS, MULTICALL_ENTRY } from "../scripts/compile.ts";

const ROOT = join(import.meta.dir, "..");
const COSTLY = ["crypto", "fs", "util", "tty", "net", "stream", "tls", "readline", "os", "dns/promises"];

/**
 * The built-ins a start loads, bundled as scripts/compile.ts bundles the binaries (code splitting,
 * modules bundled apart):
 * those imported at the top of the entry's chunk and of every chunk it imports statically, and of
 * the chunks it import()s whose names start with one of `picked` (a program the run picks).
 */
async function builtinsLoaded(entry: string, picked: string[] = []): Promise<string[]> {
  return (await startOf(entry, picked)).builtins;
}

/**
 * What a start loads (see builtinsLoaded): the built-ins, the text of the chunks, and the modules
 * of each chunk.
 */
async function startOf(
  entry: string,
  picked: string[] = [],
): Promise<{ builtins: string[]; code: string; modules: string[][] }> {
  // Unminified, so that each import is a line of its own.
  const build = await bundle(join(ROOT, entry), { minify: false });
  const chunks = new Map<string, string>();
  for (const output of build.outputs) chunks.set(basename(output.path), await output.text());
  const start = build.outputs.find((output) => output.kind === "entry-point")!;
  const builtins = new Set<string>();
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    const code = chunks.get(name);
    expect({ chunk: name, found: code !== undefined }).toEqual({ chunk: name, found: true });
    for (const [, from] of code!.matchAll(/^import\s(?:[^;"]*?\sfrom\s*)?"([^"]+)";?$/gm)) {
      if (from!.startsWith("./")) visit(basename(from!));
      else builtins.add(from!.replace(/^node:/, ""));
    }
    for (const [, from] of code!.matchAll(/\bimport\("\.\/([^"]+)"\)/g)) {
      if (picked.some((prefix) => from!.startsWith(prefix))) visit(basename(from!));
    }
  };
  visit(basename(start.path));
  const code = [...seen].map((name) => chunks.get(name)).join("\n");
  // An unminified chunk names each module it holds in a comment line of its own.
  const modules = [...seen].map((name) =>
    [...chunks.get(name)!.matchAll(/^\/\/ (\S+\.ts)$/gm)].map(([, path]) => path!),
  );
  return { builtins: [...builtins].toSorted(), code, modules };
}

const costlyIn = (builtins: string[]) => COSTLY.filter((costly) => builtins.includes(costly));

test("the client's start loads no costly built-in: node:crypto, fs, util, tty, net, stream come only when used", async () => {
  // A one-shot (client -m hi), and any other run (which loads the command line's chunk, cli-*).
  expect(costlyIn(await builtinsLoaded(ENTRY_POINTS.client))).toEqual([]);
  expect(costlyIn(await builtinsLoaded(ENTRY_POINTS.client, ["cli-", "main-"]))).toEqual([]);
});

test("a one-shot's start loads no built-in at all: even node:buffer costs it 0.4 ms (src/protocol/utf8.ts)", async () => {
  // (Round four's one-shot loaded node:buffer for isUtf8, which is now required on first use.)
  expect(await builtinsLoaded(ENTRY_POINTS.client)).toEqual([]);
});

// The session's "[RECONNECTING]" stands for the whole program: src/client/one-shot.ts says why a
// one-shot is spared it.
test("a one-shot's start does not load the whole client program (session, pipeline, citty); any other run does", async () => {
  expect((await startOf(ENTRY_POINTS.client)).code).not.toContain("[RECONNECTING]");
  expect((await startOf(ENTRY_POINTS.client, ["cli-", "main-"])).code).toContain("[RECONNECTING]");
  expect((await startOf(MULTICALL_ENTRY)).code).not.toContain("[RECONNECTING]");
});

test("a one-shot's start loads its own module and a few small ones; the link, the framing and the failures' lines only when needed", async () => {
  // src/client/one-shot.ts says why: what a start's modules make and first run is what it pays for.
  const LATER = ["src/client/link.ts", "src/protocol/framing.ts", "src/client/outcome.ts", "src/output/sink.ts"];
  for (const entry of [ENTRY_POINTS.client, MULTICALL_ENTRY]) {
    const start = await startOf(entry);
    expect(start.modules.flat()).toContain("src/client/one-shot.ts");
    expect(LATER.filter((module) => start.modules.flat().includes(module))).toEqual([]);
    // The rest of the one-shot is bundled apart (scripts/compile.ts), minified, so its modules are
    // known by what they say: a failure's line (outcome.ts) is there, not at the start.
    expect(start.code).not.toContain("[REFUSED]");
    // Nor --help's table of exit codes (exit-code-help.ts): the one-shot takes only the numbers.
    expect(start.code).not.toContain("Connection refused: is the server running?");
    expect((await startOf(entry, ["one-shot-rest-"])).code).toContain("[REFUSED]");
  }
});

test("the multi-call binary's `socket-lab client` loads none either: not the server's node:fs, os, net, dns", async () => {
  // (Its client's main-* chunk is not picked here: the server has one named alike. The first test
  // checks the same modules from the client's own entry.)
  const loaded = await builtinsLoaded(MULTICALL_ENTRY, ["cli-"]);
  expect(costlyIn(loaded)).toEqual([]);
  // The check can fail: `socket-lab server` loads them, from the server's chunks.
  expect(costlyIn(await builtinsLoaded(MULTICALL_ENTRY, ["server-", "main-"]))).toContain("fs");
});

test("a one-shot's start loads one chunk, the same from both binaries: the server and the whole client share none of it", async () => {
  // Bundled with the server or the whole client (scripts/compile.ts, BUNDLED_APART), the modules
  // they share with the one-shot were cut into chunks by which of them use each: a one-shot loaded
  // 11 chunks, then 5, each with what the others take from those modules, 0.65 ms and 0.1 ms more.
  const entries = new Set([ENTRY_POINTS.client, MULTICALL_ENTRY]);
  const chunksOf = async (entry: string) =>
    (await startOf(entry)).modules.map((modules) =>
      modules
        .filter((module) => !entries.has(module))
        .toSorted()
        .join(" "),
    );
  const client = await chunksOf(ENTRY_POINTS.client);
  expect(client.length).toBe(1);
  expect(client[0]).toContain("src/protocol/messages.ts");
  expect(await chunksOf(MULTICALL_ENTRY)).toEqual(client);
});

test("the multi-call binary bundles to the same chunks every time: a release build is reproducible", async () => {
  // Its server's first pass is served from memory: built into a temporary folder, the folder's
  // random name fed the chunks' hashes, and two release builds differed.
  const chunks = async () =>
    Promise.all(
      (await bundle(join(ROOT, MULTICALL_ENTRY))).outputs.map(
        async (file) => `${file.path} ${Bun.hash(await file.text())}`,
      ),
    );
  const first = await chunks();
  expect(first.some((chunk) => chunk.startsWith("./server-cli-"))).toBe(true);
  expect(await chunks()).toEqual(first);
});
