// bun bench/ab.ts A_SERVER B_SERVER [--pipeline 16] [--runs 8] [--duration 2] [--connections 50] [--messages]
// (a server may carry flags: bun bench/ab.ts dist/server "dist/server --workers 2"; one with
// --proxy-protocol is sent a PROXY header at the start of each connection, as in the suite)
// An A/B of two server binaries (an old build against a new one), alternating A, B, A, B... so
// that outside load hits both alike; each run starts its server afresh, pinned as in the suite
// (server on CPU 0, `client bench` on CPU 1). Prints each run and the medians: throughput and the
// server's user and kernel CPU per message, which tell a change in our code (user) from a change
// in the machine's mood (both). Each server is run as `SERVER --port P --quiet`, or with
// --messages as `SERVER --port P` with its per-message lines going to a file (the suite's
// `socket-lab > file`).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { treeCpuSeconds } from "../harness/procfs.ts";
import type { BenchResult } from "../src/bench/generator.ts";
import { formatRate } from "../src/bench/report.ts";
import { DIST_CLIENT, type ServerId, type ServerKind, startServer } from "./servers.ts";

const { values, positionals } = parseArgs({
  args: process.argv.slice(2),
  allowPositionals: true,
  options: {
    pipeline: { type: "string", default: "1" },
    runs: { type: "string", default: "8" },
    duration: { type: "string", default: "2" },
    connections: { type: "string", default: "50" },
    messages: { type: "boolean", default: false },
  },
});
if (positionals.length !== 2) {
  process.stderr.write(
    "usage: bun bench/ab.ts A_SERVER B_SERVER [--pipeline N] [--runs N] [--duration S] [--messages]\n",
  );
  process.exit(2);
}
const pinning = Bun.which("taskset") !== null && navigator.hardwareConcurrency >= 2;

interface Run {
  rate: number;
  userUs: number;
  kernelUs: number;
}

const kindOf = (binary: string): ServerKind => ({
  id: "socket-lab" as ServerId,
  label: binary,
  framing: "line",
  message: "ping",
  missing: () => undefined,
  stdoutToFile: values.messages,
  command: (port) => [...binary.split(/\s+/), "--port", String(port), ...(values.messages ? [] : ["--quiet"])],
});

const work = mkdtempSync(join(tmpdir(), "socket-lab-ab-"));
const runs = new Map<string, Run[]>(positionals.map((binary) => [binary, []]));
try {
  for (let round = 1; round <= Number(values.runs); round++) {
    for (const binary of positionals) {
      const server = await startServer(kindOf(binary), pinning ? "0" : undefined, join(work, "out"));
      try {
        await Bun.sleep(200);
        const before = treeCpuSeconds(server.pid);
        const args = ["bench", "--port", String(server.port), "-c", values.connections!, "-P", values.pipeline!];
        args.push("-d", values.duration!, "--json", "--quiet");
        if (binary.split(/\s+/).includes("--proxy-protocol")) args.push("--send-proxy");
        const command = pinning ? ["taskset", "-c", "1", DIST_CLIENT, ...args] : [DIST_CLIENT, ...args];
        const proc = Bun.spawn(command, { stdout: "pipe", stderr: "inherit" });
        const result = JSON.parse(await new Response(proc.stdout).text()) as BenchResult;
        await proc.exited;
        const after = treeCpuSeconds(server.pid);
        const run = {
          rate: result.messagesPerSecond,
          userUs: ((after.user - before.user) * 1e6) / result.messages,
          kernelUs: ((after.system - before.system) * 1e6) / result.messages,
        };
        runs.get(binary)!.push(run);
        console.log(
          `#${round} ${binary}: ${formatRate(run.rate)} msg/s, user ${run.userUs.toFixed(2)} us/msg, kernel ${run.kernelUs.toFixed(2)} us/msg`,
        );
      } finally {
        await server.stop();
      }
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const median = (list: number[]) => {
  const sorted = list.toSorted((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
console.log(`\nmedians of ${values.runs} runs, ${values.connections} connections, pipeline ${values.pipeline}:`);
for (const [binary, list] of runs) {
  const [rate, user, kernel] = [
    median(list.map((r) => r.rate)),
    median(list.map((r) => r.userUs)),
    median(list.map((r) => r.kernelUs)),
  ];
  console.log(
    `  ${binary}: ${formatRate(rate)} msg/s, user ${user.toFixed(2)} us/msg, kernel ${kernel.toFixed(2)} us/msg`,
  );
}
