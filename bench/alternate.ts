// bun bench/alternate.ts [--runs N] [--stdin FILE] 'CMD A' 'CMD B' ...
// Times whole commands, alternating A, B, A, B... so that a busy machine slows all of them alike,
// and prints the median wall time and the median CPU time (user + system, all threads, from the
// child's rusage) of each, with their ratios to the first command. This is how start-up changes
// are weighed (BENCHMARKS.md, round five): on a shared VM the medians of a few hundred alternating
// runs tell apart 0.2 ms, and CPU time moves less than wall time when other load comes and goes.
// Each command is split on spaces and spawned directly (no shell), with stdout and stderr to
// /dev/null (not a terminal, as in a pipeline) and stdin from --stdin or /dev/null; the first 5
// rounds are not counted. A command that exits non-zero stops the run. Leading NAME=value words
// go to that command's environment, as a shell takes them ('X=1 dist/client ...' against
// 'MIMALLOC_SCAVENGER=0 dist/client ...'). Each command should be a binary of its own: the same
// binary run twice in a row starts faster the second time, its code still in the CPU's caches
// (BENCHMARKS.md, round nineteen), so compare an old build and a new one as two files.
import { parseArgs } from "node:util";

const { values, positionals: commands } = parseArgs({
  args: process.argv.slice(2),
  allowPositionals: true,
  options: { runs: { type: "string", default: "200" }, stdin: { type: "string" } },
});
if (commands.length === 0) {
  process.stderr.write("usage: bun bench/alternate.ts [--runs N] [--stdin FILE] 'CMD A' 'CMD B' ...\n");
  process.exit(2);
}
const WARM_UP_ROUNDS = 5;
const runs = Number(values.runs);
/** A command's words and environment: leading NAME=value words set variables, as in a shell. */
const parsed = commands.map((command) => {
  const words = command.split(" ");
  const env: Record<string, string | undefined> = { ...process.env };
  while (words.length > 1 && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[0]!)) {
    const word = words.shift()!;
    const equals = word.indexOf("=");
    env[word.slice(0, equals)] = word.slice(equals + 1);
  }
  return { words, env };
});
const wall: number[][] = commands.map(() => []);
const cpu: number[][] = commands.map(() => []);
for (let round = 0; round < runs + WARM_UP_ROUNDS; round++) {
  for (const [i, { words, env }] of parsed.entries()) {
    const command = commands[i]!;
    const start = performance.now();
    const child = Bun.spawnSync(words, {
      env,
      stdin: values.stdin ? Bun.file(values.stdin) : "ignore",
      stdout: "ignore",
      stderr: "ignore",
    });
    const ms = performance.now() - start;
    if (child.exitCode !== 0) {
      process.stderr.write(`${command}: exit code ${child.exitCode}\n`);
      process.exit(1);
    }
    if (round < WARM_UP_ROUNDS) continue;
    wall[i]!.push(ms);
    cpu[i]!.push(Number(child.resourceUsage.cpuTime.total) / 1000);
  }
}

const median = (list: number[]) => list.toSorted((a, b) => a - b)[Math.floor(list.length / 2)]!;
const [wall0, cpu0] = [median(wall[0]!), median(cpu[0]!)];
console.log(`medians of ${runs} alternating runs (ms, and the ratio to the first command)`);
for (const [i, command] of commands.entries()) {
  const [w, c] = [median(wall[i]!), median(cpu[i]!)];
  const cells = [
    `wall ${w.toFixed(2).padStart(7)} ${(w / wall0).toFixed(2)}x`,
    `cpu ${c.toFixed(2).padStart(7)} ${(c / cpu0).toFixed(2)}x`,
  ];
  console.log(`  ${cells.join("   ")}   ${command}`);
}
