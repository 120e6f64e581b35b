// bun bench/cpuprofile-top.ts FILE.cpuprofile [N]: the functions that take the most samples in a
// profile written by `bun --cpu-prof`, by self time and by inclusive time, as percentages.
// This is how the speed work in BENCHMARKS.md was chosen: profile first.

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
}

export {};

const [file, limit = "20"] = process.argv.slice(2);
if (!file) {
  console.error("usage: bun bench/cpuprofile-top.ts FILE.cpuprofile [N]");
  process.exit(2);
}
const profile = (await Bun.file(file).json()) as CpuProfile;
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const parents = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);

const name = ({ callFrame }: ProfileNode) =>
  `${callFrame.functionName || "(anonymous)"} ${callFrame.url.split("/").slice(-2).join("/")}:${callFrame.lineNumber + 1}`;
const self = new Map<string, number>();
const inclusive = new Map<string, number>();
for (const sample of profile.samples) {
  const leaf = name(nodes.get(sample)!);
  self.set(leaf, (self.get(leaf) ?? 0) + 1);
  // Each function once per sample, however deep its recursion.
  const onStack = new Set<string>();
  for (let id: number | undefined = sample; id !== undefined; id = parents.get(id)) onStack.add(name(nodes.get(id)!));
  for (const frame of onStack) inclusive.set(frame, (inclusive.get(frame) ?? 0) + 1);
}

const total = profile.samples.length;
const print = (title: string, counts: Map<string, number>) => {
  console.log(`${title} (% of ${total} samples)`);
  for (const [frame, count] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, Number(limit))) {
    console.log(`${((100 * count) / total).toFixed(1).padStart(6)}  ${frame}`);
  }
};
print("self", self);
print("inclusive", inclusive);
