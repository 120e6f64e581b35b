// The suite's results, the targets they are checked against (printed as met or not met, never
// asserted), and the Markdown report.
import type { BenchResult } from "../src/bench/generator.ts";
import { formatRate } from "../src/bench/report.ts";
import type { ServerId } from "./servers.ts";

export interface Measurement {
  scenario: string;
  server: ServerId;
  label: string;
  result: BenchResult;
  serverCpuUsPerMessage?: number;
  /** Part of the server's CPU time spent in the kernel (socket reads and writes). */
  serverKernelShare?: number;
  /** The generator's CPU per message: near 1e6 / (msg/s) when it, not the server, is the limit. */
  generatorCpuUsPerMessage?: number;
  serverOpenFileLimit?: number;
  serverMemoryKiB?: { baseline: number; peak: number };
  serverKiBPerConnection?: number;
  /** For a server of several processes: connections each served halfway through the run, most first. */
  connectionsPerProcess?: number[];
  repetitions?: number;
}

export interface CommandTiming {
  scenario: string;
  command: string;
  medianMs: number;
  runs: number;
  allMs: number[];
}

export interface Target {
  name: string;
  /** undefined: could not be checked here (a competitor is missing). */
  met: boolean | undefined;
  detail: string;
}

export interface SuiteResults {
  date: string;
  machine: Record<string, string | number>;
  versions: Record<string, string>;
  method: Record<string, string | number>;
  measurements: Measurement[];
  timings: CommandTiming[];
  notes: string[];
  targets: Target[];
}

export const SCENARIO_TITLES: Record<string, string> = {
  "one-at-a-time": "50 connections, one message at a time",
  "pipelined-16": "50 connections, pipelined 16 deep",
  "raw-one-at-a-time": "50 connections, one at a time, raw framing (the tutorial's protocol)",
  "10k-connections": "10,000 busy connections, one message at a time",
  "tls-one-at-a-time": "50 connections over TLS, one message at a time (socket-lab plaintext beside it)",
  "tls-pipelined-16": "50 connections over TLS, pipelined 16 deep (socket-lab plaintext beside it)",
  "1M-piped-lines": "1,000,000 piped lines through one connection",
  "one-shot": "one-shot round trip: a process connects, sends one line, reads the ack, exits",
};

export function evaluateTargets(results: SuiteResults): Target[] {
  const row = (scenario: string, server: ServerId) =>
    results.measurements.find((m) => m.scenario === scenario && m.server === server);
  const rate = (scenario: string, server: ServerId) => row(scenario, server)?.result.messagesPerSecond;
  const kib = (server: ServerId) =>
    results.measurements.find((m) => m.scenario === "10k-connections" && m.server === server)?.serverKiBPerConnection;
  const time = (scenario: string, command: string) =>
    results.timings.find((t) => t.scenario === scenario && t.command === command)?.medianMs;
  const targets: Target[] = [];

  /** ours / theirs >= factor (higher is better). */
  const atLeast = (
    name: string,
    ours: number | undefined,
    theirs: number | undefined,
    factor: number,
    unit: string,
  ) => {
    if (ours === undefined || theirs === undefined)
      return targets.push({ name, met: undefined, detail: "not measured here" });
    const ratio = ours / theirs;
    targets.push({
      name,
      met: ratio >= factor,
      detail: `${formatRate(ours)} vs ${formatRate(theirs)} ${unit}: ${ratio.toFixed(2)}x`,
    });
  };
  /** ours <= theirs * factor (lower is better). */
  const atMost = (
    name: string,
    ours: number | undefined,
    theirs: number | undefined,
    factor: number,
    unit: string,
    digits = 1,
  ) => {
    if (ours === undefined || theirs === undefined)
      return targets.push({ name, met: undefined, detail: "not measured here" });
    const ratio = ours / theirs;
    targets.push({
      name,
      met: ratio <= factor,
      detail: `${ours.toFixed(digits)} vs ${theirs.toFixed(digits)} ${unit}: ${ratio.toFixed(2)}x`,
    });
  };

  /** Throughput target, with the server CPU per message beside it: the number noise moves least. */
  const faster = (name: string, scenario: string, ours: ServerId, theirs: ServerId, factor: number) => {
    atLeast(name, rate(scenario, ours), rate(scenario, theirs), factor, "msg/s");
    const [ourCpu, theirCpu] = [
      row(scenario, ours)?.serverCpuUsPerMessage,
      row(scenario, theirs)?.serverCpuUsPerMessage,
    ];
    if (ourCpu && theirCpu) {
      targets[targets.length - 1]!.detail +=
        `; server CPU per message ${ourCpu.toFixed(2)} vs ${theirCpu.toFixed(2)} us (${(theirCpu / ourCpu).toFixed(2)}x as efficient)`;
    }
  };
  faster("throughput >= redis-server (one-at-a-time)", "one-at-a-time", "socket-lab", "redis", 1);
  faster(
    "throughput >= 0.95x the bare Bun.listen server (one-at-a-time)",
    "one-at-a-time",
    "socket-lab",
    "bare-bun",
    0.95,
  );
  faster("throughput >= 1.2x redis-server (pipelined-16)", "pipelined-16", "socket-lab", "redis", 1.2);
  for (const scenario of ["one-at-a-time", "pipelined-16"]) {
    faster(`throughput >= 2x node:net (${scenario})`, scenario, "socket-lab", "node", 2);
  }
  for (const scenario of ["one-at-a-time", "pipelined-16"]) {
    // The supervisor is not on the data path: two workers cost what one process does per message.
    atMost(
      `CPU per message with --workers 2 (supervisor + workers) <= 1.1x one process (${scenario})`,
      row(scenario, "socket-lab-workers")?.serverCpuUsPerMessage,
      row(scenario, "socket-lab")?.serverCpuUsPerMessage,
      1.1,
      "us",
      2,
    );
  }
  for (const scenario of ["one-at-a-time", "pipelined-16"]) {
    // The header is read once per connection; after it, each read goes straight to the connection.
    faster(
      `--proxy-protocol: throughput >= 0.95x without (${scenario})`,
      scenario,
      "socket-lab-proxy",
      "socket-lab",
      0.95,
    );
    atMost(
      `--proxy-protocol: CPU per message <= 1.05x without (${scenario})`,
      row(scenario, "socket-lab-proxy")?.serverCpuUsPerMessage,
      row(scenario, "socket-lab")?.serverCpuUsPerMessage,
      1.05,
      "us",
      2,
    );
  }
  for (const scenario of ["one-at-a-time", "pipelined-16"]) {
    // Against the same server in plain text, in the same run (the TLS scenarios run both).
    atMost(
      `TLS: CPU per message <= 2x plain text (${scenario})`,
      row(`tls-${scenario}`, "socket-lab-tls")?.serverCpuUsPerMessage,
      row(`tls-${scenario}`, "socket-lab")?.serverCpuUsPerMessage,
      2,
      "us",
      2,
    );
  }
  faster("throughput >= 6x tutorial server.py (raw)", "raw-one-at-a-time", "socket-lab-raw", "python", 6);
  faster("throughput >= redis-server (10,000 busy)", "10k-connections", "socket-lab", "redis", 1);
  atMost("memory per connection <= redis-server (10,000 busy)", kib("socket-lab"), kib("redis"), 1, "KiB/conn");
  for (const scenario of ["one-at-a-time", "pipelined-16"]) {
    const quiet = rate(scenario, "socket-lab");
    const file = rate(scenario, "socket-lab-file");
    if (quiet === undefined || file === undefined)
      targets.push({ name: `output to a file costs <= 30% (${scenario})`, met: undefined, detail: "not measured" });
    else {
      const cost = 1 - file / quiet;
      targets.push({
        name: `output to a file costs <= 30% (${scenario})`,
        met: cost <= 0.3,
        detail: `${formatRate(file)} vs ${formatRate(quiet)} msg/s quiet: ${(cost * 100).toFixed(0)}% slower`,
      });
    }
  }
  atMost(
    "1M piped lines: client <= 1.25x nc -N",
    time("1M-piped-lines", "client"),
    time("1M-piped-lines", "nc -N"),
    1.25,
    "ms",
    0,
  );
  atMost("one-shot: client -m hi <= 2x nc", time("one-shot", "client -m hi"), time("one-shot", "nc -N"), 2, "ms");
  atMost(
    "one-shot: client -m hi <= 1.3x a compiled console.log",
    time("one-shot", "client -m hi"),
    time("one-shot", "bun floor (compiled console.log)"),
    1.3,
    "ms",
  );
  atMost(
    "one-shot: socket-lab client -m hi (the release binary) <= 1.3x a compiled console.log",
    time("one-shot", "socket-lab client -m hi"),
    time("one-shot", "bun floor (compiled console.log)"),
    1.3,
    "ms",
  );
  // Not a target: what bounds the one above. Any Bun program that connects, sends and prints pays this.
  atMost(
    "(bound) a bare compiled Bun.connect one-shot <= 1.3x a compiled console.log",
    time("one-shot", "bun connect floor (compiled Bun.connect, send, print)"),
    time("one-shot", "bun floor (compiled console.log)"),
    1.3,
    "ms",
  );
  return targets;
}

export function renderMarkdown(results: SuiteResults): string {
  const lines: string[] = [];
  const m = results.machine;
  lines.push(`# socket-lab benchmark results`, ``);
  lines.push(
    `${results.date}; ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Linux ${m.kernel}; load average ${m.loadBefore} before, ${m.loadAfter} after.`,
  );
  lines.push(
    `Pinned: ${m.pinned}. Each number is the median of ${results.method.repeat} runs of ${results.method.durationSeconds} s (throughput), timings the median of the runs shown.`,
  );
  lines.push(
    `Versions: ${Object.entries(results.versions)
      .map(([name, version]) => `${name} ${version}`)
      .join("; ")}.`,
    ``,
  );

  const scenarios = [...new Set(results.measurements.map((x) => x.scenario))];
  lines.push(
    `| scenario | server | msg/s | p50 ms | p99 ms | p99.9 ms | server CPU us/msg (kernel) | generator CPU us/msg | server KiB/conn | errors |`,
  );
  lines.push(`|---|---|---:|---:|---:|---:|---:|---:|---:|---:|`);
  for (const scenario of scenarios) {
    for (const x of results.measurements.filter((y) => y.scenario === scenario)) {
      const r = x.result;
      lines.push(
        `| ${SCENARIO_TITLES[scenario] ?? scenario} | ${x.label}${x.connectionsPerProcess ? ` (connections per worker: ${x.connectionsPerProcess.join("/")})` : ""} | ${formatRate(r.messagesPerSecond)} | ${r.latencyMs.p50.toFixed(3)} | ${r.latencyMs.p99.toFixed(3)} | ${r.latencyMs.p999.toFixed(3)} | ` +
          `${x.serverCpuUsPerMessage === undefined ? "" : `${x.serverCpuUsPerMessage.toFixed(2)} (${((x.serverKernelShare ?? 0) * 100).toFixed(0)}%)`} | ${x.generatorCpuUsPerMessage?.toFixed(2) ?? ""} | ${x.serverKiBPerConnection?.toFixed(1) ?? ""} | ${r.errors}${r.connected < r.connections ? ` (${r.connected} of ${r.connections} connected)` : ""} |`,
      );
    }
  }
  lines.push(``, `| scenario | command | median ms | runs (ms) |`, `|---|---|---:|---|`);
  for (const t of results.timings) {
    lines.push(
      `| ${SCENARIO_TITLES[t.scenario] ?? t.scenario} | \`${t.command}\` | ${t.medianMs.toFixed(1)} | ${t.allMs.join(", ")} |`,
    );
  }
  lines.push(``, `## Targets`, ``);
  for (const target of results.targets) {
    const status = target.met === undefined ? "NOT CHECKED" : target.met ? "met" : "NOT MET";
    lines.push(`- **${status}**: ${target.name}: ${target.detail}`);
  }
  if (results.notes.length > 0) {
    lines.push(``, `## Notes`, ``);
    for (const note of results.notes) lines.push(`- ${note}`);
  }
  return `${lines.join("\n")}\n`;
}
