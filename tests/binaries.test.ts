// The compiled binaries of `bun run build` (dist/server, dist/client), run the way a user who
// downloaded them would (helpers/standalone.ts). `npm test` builds dist/ first; when it is
// missing (plain `bun test`), it is built here.
import { beforeAll } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { buildBinary, ENTRY_POINTS } from "../scripts/compile.ts";
import { ROOT } from "./helpers/processes.ts";
import { describeStandalonePair } from "./helpers/standalone.ts";

const binary = (name: keyof typeof ENTRY_POINTS) => join(ROOT, "dist", name);

beforeAll(async () => {
  for (const [name, entry] of Object.entries(ENTRY_POINTS) as Array<[keyof typeof ENTRY_POINTS, string]>) {
    if (!existsSync(binary(name))) await buildBinary({ entry: join(ROOT, entry), outfile: binary(name) });
  }
});

describeStandalonePair("compiled binaries, from a folder without node_modules or Bun", () => ({
  server: [binary("server")],
  client: [binary("client")],
}));
