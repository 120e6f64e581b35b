// bun run bench [-- --duration 2 --repeat 7 --only pipelined-16,one-shot --no-build]
// Starts each server in turn on loopback, drives it with `client bench` (the same generator for
// every server, in the same run), and writes bench/results.json, bench/results.md and the chart
// bench/results.svg, with each target's status. Benchmarks are programs, not tests: nothing here
// asserts; a target not met is printed as such. BENCHMARKS.md explains the method and the numbers.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadAverage, machineDescription, memoryKiB, openFileLimit, treeCpuSeconds } from "../harness/procfs.ts";
import { buildBinary, MULTICALL_ENTRY } from "../scripts/compile.ts";
import type { BenchResult } from "../src/bench/generator.ts";
import { formatRate } from "../src/bench/report.ts";
import { makeCertificates } from "../tests/helpers/certs.ts";
import { renderChart } from "./chart.ts";
import {
  type BenchCertificates,
  connectionsPerProcess,
  DIST_CLIENT,
  ROOT,
  SERVERS,
  type ServerId,
  type ServerKind,
  startServer,
} from "./servers.ts";
import {
  type CommandTiming,
  evaluateTargets,
  type Measurement,
  renderMarkdown,
  SCENARIO_TITLES,
  type SuiteResults,
} from "./targets.ts";

const { values: flags } = parseArgs({
  args: process.argv.slice(2),
  options: {
    duration: { type: "string", default: "2" },
    repeat: { type: "string", default: "7" },
    only: { type: "string" },
    "no-build": { type: "boolean", default: false },
  },
});
const DURATION_S = Number(flags.duration);
const REPEAT = Math.max(1, Number(flags.repeat));
const ONLY = flags.only?.split(",");
const wanted = (scenario: string) => ONLY === undefined || ONLY.includes(scenario);
const TLS_SCENARIOS = ["tls-one-at-a-time", "tls-pipelined-16"];
const MANY_CONNECTIONS = 10_000;
const PIPED_LINES = 1_000_000;
/** Timed commands are short: more runs of them cost little and steady the medians. */
const PIPED_LINES_RUNS = 15;
/**
 * 100 rounds of the five one-shot commands take ~7 s. With 25, the ratio of medians moved by up to
 * 0.15x between back-to-back runs of the suite on the same code (1.33x-1.48x, BENCHMARKS.md round
 * nineteen); three runs of `--only one-shot` with 100 gave 1.29x-1.30x.
 */
const ONE_SHOT_RUNS = 100;

const log = (text: string) => process.stderr.write(`[bench] ${text}\n`);
const notes: string[] = [];
const skip = (why: string) => {
  notes.push(why);
  log(`skipped: ${why}`);
};

// Server on one core, generator on another, where the machine allows: they never fight for a core
// (other programs on the machine still can).
const cores = navigator.hardwareConcurrency;
const pinning = Bun.which("taskset") && cores >= 2;
const SERVER_CPU = pinning ? "0" : undefined;
const GENERATOR_CPU = pinning ? "1" : undefined;
if (!pinning)
  skip(Bun.which("taskset") ? "one core only: server and generator not pinned" : "taskset not installed: no pinning");
const pinned = (cpu: string | undefined, command: string[]) =>
  cpu === undefined ? command : ["taskset", "-c", cpu, ...command];

const work = mkdtempSync(join(tmpdir(), "socket-lab-bench-"));
// For the TLS servers: a CA the generator trusts and a certificate for 127.0.0.1 (made with openssl,
// only when a TLS scenario runs).
using testCertificates = TLS_SCENARIOS.some(wanted) ? makeCertificates() : undefined;
const certificates: BenchCertificates | undefined = testCertificates && {
  ca: testCertificates.ca,
  ...testCertificates.server,
};
try {
  if (!flags["no-build"]) {
    log("building dist/server and dist/client");
    const build = Bun.spawnSync([process.execPath, "run", "build"], { cwd: ROOT, stderr: "pipe" });
    if (build.exitCode !== 0) throw new Error(`bun run build failed:\n${build.stderr}`);
  }
  const started = new Date();
  const loadBefore = loadAverage();
  const measurements: Measurement[] = [];
  const lineServers: ServerId[] = [
    "socket-lab",
    "socket-lab-workers",
    "socket-lab-proxy",
    "socket-lab-file",
    "bare-bun",
    "node",
    "redis",
  ];
  if (wanted("one-at-a-time")) measurements.push(...(await throughputScenario("one-at-a-time", 50, 1, lineServers)));
  if (wanted("pipelined-16")) measurements.push(...(await throughputScenario("pipelined-16", 50, 16, lineServers)));
  if (wanted("raw-one-at-a-time"))
    measurements.push(...(await throughputScenario("raw-one-at-a-time", 50, 1, ["socket-lab-raw", "python"])));
  // The generator needs a file descriptor per connection, and so does each server.
  const fileLimit = openFileLimit(process.pid) ?? Infinity;
  if (wanted("10k-connections") && fileLimit < MANY_CONNECTIONS + 300) {
    skip(`10k-connections: the open-file limit is ${fileLimit}; raise it (ulimit -n 20000) to run it`);
  } else if (wanted("10k-connections")) {
    const servers: ServerId[] = ["socket-lab", "redis", "node"];
    measurements.push(...(await throughputScenario("10k-connections", MANY_CONNECTIONS, 1, servers, { fresh: true })));
  }
  // TLS against plaintext on the same server, and against redis-server's own TLS port.
  const tlsServers: ServerId[] = ["socket-lab", "socket-lab-tls", "redis-tls"];
  if (wanted("tls-one-at-a-time"))
    measurements.push(...(await throughputScenario("tls-one-at-a-time", 50, 1, tlsServers)));
  if (wanted("tls-pipelined-16"))
    measurements.push(...(await throughputScenario("tls-pipelined-16", 50, 16, tlsServers)));
  const timings: CommandTiming[] = [];
  if (wanted("1M-piped-lines")) timings.push(...(await pipedLinesScenario()));
  if (wanted("one-shot")) timings.push(...(await oneShotScenario()));

  const results: SuiteResults = {
    date: started.toISOString(),
    machine: {
      ...machineDescription(),
      loadBefore,
      loadAfter: loadAverage(),
      pinned: pinning ? "server on CPU 0, generator on CPU 1" : "no",
    },
    versions: versions(),
    method: { durationSeconds: DURATION_S, repeat: REPEAT, statistic: "median of the repetitions" },
    measurements,
    timings,
    notes,
    targets: [],
  };
  results.targets = evaluateTargets(results);
  writeFileSync(join(import.meta.dir, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
  const markdown = renderMarkdown(results);
  writeFileSync(join(import.meta.dir, "results.md"), markdown);
  writeFileSync(join(import.meta.dir, "results.svg"), renderChart(results, SCENARIO_TITLES));
  process.stdout.write(markdown);
} finally {
  rmSync(work, { recursive: true, force: true });
}

interface ScenarioOptions {
  /** A new server process for each repetition, so its memory tells about these connections only. */
  fresh?: boolean;
}

/**
 * Each server in turn, REPEAT times, round-robin (so a burst of load from other programs hits
 * every server alike); the median repetition by throughput is kept.
 */
async function throughputScenario(
  scenario: string,
  connections: number,
  pipeline: number,
  ids: ServerId[],
  options: ScenarioOptions = {},
): Promise<Measurement[]> {
  const kinds = ids
    .map((id) => SERVERS[id])
    .filter((kind) => {
      const missing = kind.missing() ?? (kind.tls ? benchTlsMissing() : undefined);
      if (missing) skip(`${kind.label} in ${scenario}: ${missing}`);
      return !missing;
    });
  const runs = new Map<ServerId, Measurement[]>(kinds.map((kind) => [kind.id, []]));
  const longLived = options.fresh
    ? undefined
    : await Promise.all(kinds.map((kind) => startServer(kind, SERVER_CPU, join(work, `${kind.id}.out`), certificates)));
  try {
    for (let repetition = 1; repetition <= REPEAT; repetition++) {
      for (const [index, kind] of kinds.entries()) {
        const server =
          longLived?.[index] ?? (await startServer(kind, SERVER_CPU, join(work, `${kind.id}.out`), certificates));
        try {
          await Bun.sleep(200);
          // A supervisor's workers are its children: the whole tree's CPU is the server's cost.
          const before = { cpu: treeCpuSeconds(server.pid), memory: memoryKiB(server.pid) };
          // Halfway through the run every connection is open: who serves each tells the spread.
          const spread = kind.workers
            ? Bun.sleep((DURATION_S * 1000) / 2).then(() => connectionsPerProcess(server.port))
            : undefined;
          const { result, generatorCpuSeconds } = await generate(
            server.port,
            connections,
            pipeline,
            kind,
            certificates,
          );
          const after = treeCpuSeconds(server.pid);
          const cpu = after.user + after.system - before.cpu.user - before.cpu.system;
          const memory = memoryKiB(server.pid);
          const measurement: Measurement = {
            scenario,
            server: kind.id,
            label: kind.label,
            result,
            serverCpuUsPerMessage: result.messages > 0 ? (cpu * 1e6) / result.messages : undefined,
            serverKernelShare: cpu > 0 ? (after.system - before.cpu.system) / cpu : undefined,
            generatorCpuUsPerMessage: result.messages > 0 ? (generatorCpuSeconds * 1e6) / result.messages : undefined,
            serverOpenFileLimit: openFileLimit(server.pid),
            connectionsPerProcess: await spread,
            ...(options.fresh && {
              serverMemoryKiB: { baseline: before.memory.rss, peak: memory.peak },
              serverKiBPerConnection: (memory.peak - before.memory.rss) / Math.max(1, result.connected),
            }),
          };
          runs.get(kind.id)!.push(measurement);
          log(
            `${scenario} ${kind.label} #${repetition}: ${formatRate(result.messagesPerSecond)} msg/s, p99 ${result.latencyMs.p99.toFixed(2)} ms, ` +
              `${result.errors} errors${measurement.serverKiBPerConnection ? `, ${measurement.serverKiBPerConnection.toFixed(1)} KiB/conn` : ""}`,
          );
        } finally {
          if (!longLived) await server.stop();
        }
      }
    }
  } finally {
    await Promise.all((longLived ?? []).map((server) => server.stop()));
  }
  return [...runs.values()].map(summarize);
}

/**
 * One row from the repetitions of a server: the run of median throughput (its latencies come
 * with it), and the median of each cost measured on the server, taken on its own.
 */
function summarize(list: Measurement[]): Measurement {
  const medianOf = (key: (m: Measurement) => number | undefined) => {
    const values = list.map(key).filter((value): value is number => value !== undefined);
    return values.length === 0 ? undefined : median(values, (value) => value);
  };
  return {
    ...median(list, (m) => m.result.messagesPerSecond),
    serverCpuUsPerMessage: medianOf((m) => m.serverCpuUsPerMessage),
    serverKernelShare: medianOf((m) => m.serverKernelShare),
    generatorCpuUsPerMessage: medianOf((m) => m.generatorCpuUsPerMessage),
    serverKiBPerConnection: medianOf((m) => m.serverKiBPerConnection),
    repetitions: list.length,
  };
}

/** One `client bench` run, and the CPU time it used (connecting included). */
async function generate(
  port: number,
  connections: number,
  pipeline: number,
  kind: ServerKind,
  certificates: BenchCertificates | undefined,
): Promise<{ result: BenchResult; generatorCpuSeconds: number }> {
  const args = ["bench", "--port", String(port), "-c", String(connections), "-P", String(pipeline)];
  if (kind.tls && certificates) args.push("--tls", "--tls-ca", certificates.ca);
  if (kind.sendProxy) args.push("--send-proxy");
  args.push(
    "-m",
    kind.message,
    "--framing",
    kind.framing,
    "-d",
    String(DURATION_S),
    "--json",
    "--quiet",
    "--timeout",
    "30",
  );
  const proc = Bun.spawn(pinned(GENERATOR_CPU, [DIST_CLIENT, ...args]), { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (!stdout.trim()) throw new Error(`client bench printed nothing: ${stderr}`);
  const cpuMicroseconds = proc.resourceUsage()?.cpuTime.total ?? 0;
  return { result: JSON.parse(stdout) as BenchResult, generatorCpuSeconds: Number(cpuMicroseconds) / 1e6 };
}

/** 1,000,000 lines through `client` and through `nc -N`, against the same quiet server. */
async function pipedLinesScenario(): Promise<CommandTiming[]> {
  const input = join(work, "lines.txt");
  writeFileSync(input, `${Array.from({ length: PIPED_LINES }, (_, i) => `line ${i + 1}`).join("\n")}\n`);
  const commands: Record<string, (port: number) => string[]> = {
    client: (port) => [DIST_CLIENT, "--port", String(port), "--quiet"],
    "nc -N": (port) => ["nc", "-N", "127.0.0.1", String(port)],
  };
  return timeCommands("1M-piped-lines", commands, input, PIPED_LINES, PIPED_LINES_RUNS);
}

/** One message, one connection, one process: `client -m hi` against `printf 'hi\n' | nc -N`. */
async function oneShotScenario(): Promise<CommandTiming[]> {
  const input = join(work, "hi.txt");
  writeFileSync(input, "hi\n");
  const floorSource = join(work, "floor.ts");
  writeFileSync(floorSource, "console.log(\"Message 'hi' received successfully\");\n");
  const floor = await buildBinary({ entry: floorSource, outfile: join(work, "floor") });
  // The floor under any Bun client: Bun.connect, send the line, print the first reply, exit.
  const connectSource = join(work, "connect-floor.ts");
  writeFileSync(
    connectSource,
    `await new Promise<void>((done) => {
  Bun.connect({ hostname: "127.0.0.1", port: Number(process.argv[2]), socket: {
    open(socket) { socket.write("hi\\n"); },
    data(socket, chunk) { console.log(chunk.toString().trimEnd()); socket.end(); done(); },
  } });
});
`,
  );
  const connectFloor = await buildBinary({ entry: connectSource, outfile: join(work, "connect-floor") });
  const multicall = await buildBinary({ entry: MULTICALL_ENTRY, outfile: join(work, "socket-lab") });
  const commands: Record<string, (port: number) => string[]> = {
    "client -m hi": (port) => [DIST_CLIENT, "--port", String(port), "-m", "hi"],
    // The release's multi-call binary, as a user who downloads it runs it.
    "socket-lab client -m hi": (port) => [multicall, "client", "--port", String(port), "-m", "hi"],
    "nc -N": (port) => ["nc", "-N", "127.0.0.1", String(port)],
    // The floor under any compiled Bun program: start the runtime, print a line, exit.
    "bun floor (compiled console.log)": () => [floor],
    "bun connect floor (compiled Bun.connect, send, print)": (port) => [connectFloor, String(port)],
  };
  return timeCommands("one-shot", commands, input, 1, ONE_SHOT_RUNS);
}

/**
 * Puts each program in the state of a file read back from disk: written out, and dropped from
 * the page cache (GNU dd's `iflag=nocache count=0`), so that run 0, not counted, reads it in as
 * after a restart. How a binary came into the cache moves a start by up to half a millisecond: a
 * floor just written (or copied) started in 3.96 ms where the same bytes written hours before
 * took 4.47, and 4.38 ms once dropped and read back (150 alternating runs each, BENCHMARKS.md,
 * round fourteen; this machine runs DAMON with a pageout scheme, which reclaims pages left untouched).
 * The floor is built just before its scenario, the client minutes earlier: now every command
 * starts from the same state.
 */
function fromDisk(programs: string[]): void {
  for (const program of programs) {
    const path = program.includes("/") ? program : Bun.which(program);
    if (!path) continue;
    const synced = Bun.spawnSync(["sync", path]).exitCode === 0;
    const dropped =
      synced && Bun.spawnSync(["dd", `if=${path}`, "iflag=nocache", "count=0", "status=none"]).exitCode === 0;
    if (!dropped) skip(`could not drop ${path} from the page cache: its start may be measured warmer than the others'`);
  }
}

/** Runs each command `runs` times, alternating, with stdin from `inputFile`; medians of wall time. */
async function timeCommands(
  scenario: string,
  commands: Record<string, (port: number) => string[]>,
  inputFile: string,
  expectedLines: number,
  runs: number,
): Promise<CommandTiming[]> {
  if (!Bun.which("nc")) {
    skip(`${scenario}: nc is not installed`);
    delete commands["nc -N"];
  }
  const server = await startServer(SERVERS["socket-lab"], SERVER_CPU, join(work, "timing.out"));
  const times = new Map<string, number[]>(Object.keys(commands).map((name) => [name, []]));
  fromDisk(Object.values(commands).map((command) => command(server.port)[0]!));
  const output = join(work, "timing-output.txt");
  try {
    for (let run = 0; run <= runs; run++) {
      for (const [name, command] of Object.entries(commands)) {
        writeFileSync(output, "");
        const start = performance.now();
        const proc = Bun.spawn(pinned(GENERATOR_CPU, command(server.port)), {
          stdin: Bun.file(inputFile),
          stdout: Bun.file(output),
          stderr: "ignore",
        });
        const exitCode = await proc.exited;
        const ms = performance.now() - start;
        const lines = countLines(output);
        if (exitCode !== 0 || lines !== expectedLines) {
          throw new Error(`${scenario}: ${name} exited ${exitCode} with ${lines} of ${expectedLines} acks`);
        }
        // Run 0 warms the page cache and the server; it is not counted.
        if (run > 0) times.get(name)!.push(ms);
      }
    }
  } finally {
    await server.stop();
  }
  return [...times].map(([name, list]) => {
    const ms = median(list, (x) => x);
    log(`${scenario} ${name}: median ${ms.toFixed(1)} ms of ${list.length}`);
    return {
      scenario,
      command: name,
      medianMs: ms,
      runs: list.length,
      allMs: list.map((x) => Math.round(x * 10) / 10),
    };
  });
}

/** `client bench --tls` comes with the client's TLS support; without it the TLS rows are skipped. */
function benchTlsMissing(): string | undefined {
  const help = Bun.spawnSync([DIST_CLIENT, "bench", "--help"], { stdout: "pipe", stderr: "pipe" });
  return help.stdout.toString().includes("--tls-ca") ? undefined : "client bench has no --tls-ca yet";
}

function countLines(path: string): number {
  const bytes = readFileSync(path);
  let count = 0;
  for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) count++;
  return count;
}

/** The middle element by `key` (the upper middle of an even count). */
function median<T>(items: T[], key: (item: T) => number): T {
  return [...items].sort((a, b) => key(a) - key(b))[Math.floor(items.length / 2)]!;
}

function versions(): Record<string, string> {
  const version = (command: string[]) =>
    Bun.which(command[0]!) ? Bun.spawnSync(command).stdout.toString().trim().split("\n")[0]! : "not installed";
  return {
    bun: Bun.version,
    node: version(["node", "--version"]),
    redis: version(["redis-server", "--version"]),
    python: version(["python3", "--version"]),
    nc: netcatKind(),
  };
}

/**
 * Which netcat `nc` is: several packages install one under that name, with different flags
 * (`-N`, used above, is OpenBSD's). Each names itself in its usage text, on stdout or stderr.
 */
function netcatKind(): string {
  if (!Bun.which("nc")) return "not installed";
  const { stdout, stderr } = Bun.spawnSync(["nc", "-h"], { stdin: "ignore" });
  const usage = `${stdout.toString()}\n${stderr.toString()}`;
  const known: Array<[RegExp, (match: RegExpExecArray) => string]> = [
    [/OpenBSD netcat(?: \(([^)]+)\))?/, (m) => `OpenBSD netcat${m[1] ? ` (${m[1]})` : ""}`],
    [/Ncat (\S+)/, (m) => `Ncat ${m[1]} (nmap)`],
    [/BusyBox (v\S+)/, (m) => `BusyBox ${m[1]} nc`],
    [/GNU netcat (\S+)/, (m) => `GNU netcat ${m[1]}`],
    [/\[v(1\.\d+[^\]]*)\]/, (m) => `traditional netcat ${m[1]}`],
  ];
  for (const [pattern, name] of known) {
    const match = pattern.exec(usage);
    if (match) return name(match);
  }
  return `unknown (${usage.trim().split("\n")[0] ?? "no usage text"})`;
}
