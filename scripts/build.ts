// bun run build: dist/server and dist/client, standalone executables for this machine.
// scripts/release.ts builds the same entry points for every target.
import { buildBinary, ENTRY_POINTS } from "./compile.ts";

const outDir = process.argv[2] ?? "dist";
for (const [name, entry] of Object.entries(ENTRY_POINTS)) {
  const path = await buildBinary({ entry, outfile: `${outDir}/${name}` });
  console.error(`built ${path}`);
}
