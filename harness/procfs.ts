// What the tests, the bench and the soak read about a running process from /proc (Linux): CPU
// time, memory, open files, and the machine they run on. One reader, so that a number in a test's
// bound, the soak's report and BENCHMARKS.md means the same thing.
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second for /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** CPU seconds used so far by every thread of the process, in user space and in the kernel. */
export function cpuSeconds(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) start at ") ".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { user: Number(fields[11]) / TICKS_PER_SECOND, system: Number(fields[12]) / TICKS_PER_SECOND };
}

/**
 * The process and every descendant alive now (a supervisor and its workers), from the kernel's
 * list of each thread's children.
 */
export function processTree(pid: number): number[] {
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    for (const task of safeReaddir(`/proc/${tree[i]}/task`)) {
      const children = safeRead(`/proc/${tree[i]}/task/${task}/children`).trim();
      if (children) tree.push(...children.split(" ").map(Number));
    }
  }
  return tree;
}

/** CPU seconds of the process and its descendants: a server of several processes counts whole. */
export function treeCpuSeconds(pid: number): { user: number; system: number } {
  const total = { user: 0, system: 0 };
  for (const member of processTree(pid)) {
    const { user, system } = cpuSeconds(member);
    total.user += user;
    total.system += system;
  }
  return total;
}

function safeReaddir(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** Resident memory now (VmRSS) and at its peak so far (VmHWM), in KiB. */
export function memoryKiB(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rss: field("VmRSS"), peak: field("VmHWM") };
}

/**
 * Share of one core a process used over the next `ms` of wall time (0.0 to 1.0; more when it
 * keeps several cores busy).
 */
export async function cpuShareOver(pid: number, ms: number): Promise<number> {
  const total = () => {
    const { user, system } = cpuSeconds(pid);
    return user + system;
  };
  const before = total();
  const start = performance.now();
  await Bun.sleep(ms);
  return (total() - before) / ((performance.now() - start) / 1000);
}

/** File descriptors a process has open now. */
export function openFiles(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** The soft open-file limit of a process, as it really runs. */
export function openFileLimit(pid: number): number | undefined {
  try {
    const match = /^Max open files\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/limits`, "utf8"));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

export function machineDescription(): { cpu: string; cores: number; kernel: string; memoryGiB: number } {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const meminfo = readFileSync("/proc/meminfo", "utf8");
  return {
    cpu: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? "unknown",
    cores: (cpuinfo.match(/^processor\s*:/gm) ?? []).length,
    kernel: readFileSync("/proc/sys/kernel/osrelease", "utf8").trim(),
    memoryGiB: Math.round(Number(/^MemTotal:\s+(\d+)/m.exec(meminfo)?.[1] ?? 0) / 1024 / 1024),
  };
}

export function loadAverage(): string {
  return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
}
