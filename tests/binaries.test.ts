// The compiled binaries of `bun run build` (dist/server, dist/client), run the way a user who
// downloaded them would (helpers/standalone.ts). `npm test` builds dist/ first; when it is
// missing or stale (plain `bun test` after an edit), it is built here.
import { beforeAll } from "bun:test";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { buildBinary, ENTRY_POINTS } from "../scripts/compile.ts";
import { ROOT } from "./helpers/processes.ts";
import { describeStandalonePair } from "./helpers/standalone.ts";

const binary = (name: keyof typeof ENTRY_POINTS) => join(ROOT, "dist", name);

/** The newest modification time of the code that goes into the binaries. */
function newestSource(): number {
  const sources = readdirSync(join(ROOT, "src"), { recursive: true }).map((file) => join("src", String(file)));
  const files = ["server.ts", "client.ts", "package.json", ...sources];
  return Math.max(...files.map((file) => statSync(join(ROOT, file)).mtimeMs));
}

beforeAll(async () => {
  // Missing, or older than the code: build, or the binaries tested would not be the code under test.
  const sourceTime = newestSource();
  for (const [name, entry] of Object.entries(ENTRY_POINTS) as Array<[keyof typeof ENTRY_POINTS, string]>) {
    if (!existsSync(binary(name)) || statSync(binary(name)).mtimeMs < sourceTime) {
      await buildBinary({ entry: join(ROOT, entry), outfile: binary(name) });
    }
  }
});

describeStandalonePair("compiled binaries, from a folder without node_modules or Bun", () => ({
  server: [binary("server")],
  client: [binary("client")],
}));
