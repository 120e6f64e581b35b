// The compiled binaries of `bun run build` (dist/server, dist/client), run the way a user who
// downloaded them would (helpers/standalone.ts). `npm test` builds dist/ first; when it is
// missing or stale (plain `bun test` after an edit), it is built here.
import { beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../package.json" with { type: "json" };
import { buildBinary, ENTRY_POINTS } from "../scripts/compile.ts";
import { metricsUrl, scrape } from "./helpers/metrics.ts";
import { ROOT, startServerProcess } from "./helpers/processes.ts";
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

test("the compiled server serves /metrics (prom-client inside the binary), from a folder without node_modules", async () => {
  const folder = mkdtempSync(join(tmpdir(), "socket-lab-metrics-"));
  const server = await startServerProcess(["--metrics", "127.0.0.1:0"], [binary("server")], {
    cwd: folder,
    env: { PATH: folder, HOME: folder },
  });
  try {
    const { status, samples } = await scrape(await metricsUrl(server));
    expect(status).toBe(200);
    expect(samples.get(`socketlab_build_info{version="${pkg.version}"}`)).toBe(1);
    expect(samples.get("socketlab_connections_accepted_total")).toBe(0);
    expect(samples.get("process_resident_memory_bytes")).toBeGreaterThan(0);
    expect(await server.stop("SIGTERM")).toBe(0);
  } finally {
    server.proc.kill("SIGKILL");
    rmSync(folder, { recursive: true, force: true });
  }
});
