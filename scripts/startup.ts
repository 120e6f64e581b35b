// bun scripts/startup.ts: start-up time and size of the compiled programs for this machine, next to
// Bun's own hello-world binary built the same way. Needs hyperfine. Prints a Markdown table (the
// one in README.md). Timings on a busy machine wander: compare the rows of one run, not runs.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildBinary, ENTRY_POINTS, MULTICALL_ENTRY } from "./compile.ts";

const RUNS = Number(process.env.RUNS ?? 200);

interface HyperfineResult {
  command: string;
  mean: number;
  stddev: number;
  median: number;
  min: number;
}

if (!Bun.which("hyperfine")) {
  console.error("startup: hyperfine is not installed (https://github.com/sharkdp/hyperfine)");
  process.exit(1);
}

const dir = await mkdtemp(join(tmpdir(), "socket-lab-startup-"));
let server: ReturnType<typeof Bun.spawn> | undefined;
try {
  await Bun.write(join(dir, "hello.ts"), 'console.log("hi");\n');
  const hello = await buildBinary({ entry: join(dir, "hello.ts"), outfile: join(dir, "hello") });
  const client = await buildBinary({ entry: ENTRY_POINTS.client, outfile: join(dir, "client") });
  const serverBinary = await buildBinary({ entry: ENTRY_POINTS.server, outfile: join(dir, "server") });
  // The one binary a release ships.
  const multicall = await buildBinary({ entry: MULTICALL_ENTRY, outfile: join(dir, "socket-lab") });

  // A server for the one-shot round trip. Its log goes to a file, not a pipe: nothing reads a pipe
  // while hyperfine runs. The STARTING line tells the port.
  const serverLog = join(dir, "server.log");
  server = Bun.spawn([serverBinary, "--port", "0", "--quiet"], { stdout: "ignore", stderr: Bun.file(serverLog) });
  const port = await readPort(serverLog);

  const commands: Array<[label: string, command: string]> = [
    ["Bun hello world (`console.log`)", hello],
    ["`client --version`", `${client} --version`],
    ["`server --version`", `${serverBinary} --version`],
    ["`client --help`", `${client} --help`],
    ["`client -m hi` (connect, send, ack, exit)", `${client} --port ${port} --quiet -m hi`],
    ["`socket-lab --version` (the release binary)", `${multicall} --version`],
    ["`socket-lab client -m hi`", `${multicall} client --port ${port} --quiet -m hi`],
  ];
  const jsonPath = join(dir, "hyperfine.json");
  const run = Bun.spawnSync(
    [
      "hyperfine",
      "-N",
      "--warmup",
      "10",
      "--runs",
      String(RUNS),
      "--export-json",
      jsonPath,
      ...commands.map(([, c]) => c),
    ],
    { stdout: "ignore", stderr: "inherit" },
  );
  if (run.exitCode !== 0) throw new Error("hyperfine failed");
  const { results } = (await Bun.file(jsonPath).json()) as { results: HyperfineResult[] };

  const ms = (seconds: number) => (seconds * 1000).toFixed(1);
  console.log(`| command (${RUNS} runs, \`hyperfine -N\`) | median | mean ± σ | min |`);
  console.log("|---|---|---|---|");
  results.forEach((result, i) => {
    console.log(
      `| ${commands[i]![0]} | ${ms(result.median)} ms | ${ms(result.mean)} ± ${ms(result.stddev)} ms | ${ms(result.min)} ms |`,
    );
  });
  const mib = (path: string) => (Bun.file(path).size / 1024 / 1024).toFixed(1);
  console.log(
    `\nsizes: hello ${mib(hello)} MiB, client ${mib(client)} MiB, server ${mib(serverBinary)} MiB, socket-lab ${mib(multicall)} MiB`,
  );
} finally {
  server?.kill("SIGKILL");
  await server?.exited;
  await rm(dir, { recursive: true, force: true });
}

async function readPort(logPath: string, deadlineMs = 10_000): Promise<number> {
  for (const start = performance.now(); performance.now() - start < deadlineMs; await Bun.sleep(20)) {
    const match = /listening on .*:(\d+)/.exec(await Bun.file(logPath).text());
    if (match) return Number(match[1]);
  }
  throw new Error(`the server did not start:\n${await Bun.file(logPath).text()}`);
}
