// What the client loads before it does anything: a bundler hoists a static import of a built-in
// to the start of the binary, even from a module only import()ed later, and some built-ins cost a
// one-shot `client -m hi` more than its whole round trip (node:crypto ~7 ms, node:util ~3 ms,
// node:fs ~2 ms, node:tty ~7 ms). Not a timing test (bun run bench measures the time): the
// bundle's own import lines say what every start pays for.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { ENTRY_POINTS } from "../scripts/compile.ts";

const ROOT = join(import.meta.dir, "..");

/** The built-ins a bundle imports at its top (`import ... from "fs"`), not the ones it import()s. */
async function hoistedBuiltins(entry: string): Promise<string[]> {
  const build = await Bun.build({ entrypoints: [join(ROOT, entry)], target: "bun", format: "esm" });
  expect(build.success).toBe(true);
  const code = await build.outputs[0]!.text();
  return [...code.matchAll(/^import\s.*?\sfrom\s*"(?:node:)?([a-z_/]+)";?$/gm)].map((match) => match[1]!).toSorted();
}

test("the client's start loads no costly built-in: node:crypto, fs, util, tty, net, stream come only when used", async () => {
  const builtins = await hoistedBuiltins(ENTRY_POINTS.client);
  for (const costly of ["crypto", "fs", "util", "tty", "net", "stream", "tls", "readline"]) {
    expect({ costly, hoisted: builtins.includes(costly) }).toEqual({ costly, hoisted: false });
  }
});
