// How `client bench` shows a run: a progress line while it runs and a summary at the end, in the
// spirit of redis-benchmark. The JSON form is the BenchResult itself.
import { formatTarget } from "../net/address.ts";
import type { BenchProgress, BenchResult } from "./generator.ts";
import type { Histogram } from "./histogram.ts";

export function formatProgress({ elapsedMs, messages, errors }: BenchProgress): string {
  const rate = elapsedMs > 0 ? (messages * 1000) / elapsedMs : 0;
  return `[BENCH] ${(elapsedMs / 1000).toFixed(1)} s: ${messages} messages, ${formatRate(rate)} msg/s, ${errors} errors`;
}

export function formatSummary(result: BenchResult): string {
  const { latencyMs: l } = result;
  const errors = Object.entries(result.errorKinds)
    .map(([kind, count]) => `${kind} ${count}`)
    .join(", ");
  return [
    `${formatTarget(result)}, ${result.framing} framing, message ${JSON.stringify(result.message)}`,
    `  connections   ${result.connected} of ${result.connections} (opened in ${result.connectMs.toFixed(0)} ms), pipeline ${result.pipeline}`,
    `  messages      ${result.messages} in ${(result.elapsedMs / 1000).toFixed(2)} s`,
    `  throughput    ${formatRate(result.messagesPerSecond)} messages/s`,
    `  latency (ms)  p50 ${fixed(l.p50)}  p90 ${fixed(l.p90)}  p99 ${fixed(l.p99)}  p99.9 ${fixed(l.p999)}  max ${fixed(l.max)}  (mean ${fixed(l.mean)}, min ${fixed(l.min)})`,
    `  errors        ${result.errors}${errors ? ` (${errors})` : ""}`,
  ].join("\n");
}

/** 123456.7 -> "123,457". */
export function formatRate(perSecond: number): string {
  return Math.round(perSecond).toLocaleString("en-US");
}

function fixed(ms: number): string {
  return ms < 10 ? ms.toFixed(3) : ms.toFixed(1);
}

/** Rows of the latency chart: equal slices of the range from the fastest reply to p99.9, then the rest. */
const DISTRIBUTION_ROWS = 10;
const BAR_WIDTH = 40;

/**
 * The latency distribution as text bars, as `hey` and `oha` print it: one row per latency range,
 * its share of replies as a bar. The tail past p99.9 gets one row of its own, so one slow reply
 * does not squash every other row into the first. `color` adds ANSI colour (a terminal only).
 */
export function formatDistribution(histogram: Histogram, { color }: { color: boolean }): string {
  if (histogram.count === 0) return "";
  const low = histogram.min;
  const high = Math.max(low + 1, histogram.percentile(99.9));
  const step = (high - low) / DISTRIBUTION_ROWS;
  const edges = Array.from({ length: DISTRIBUTION_ROWS }, (_, i) => low + i * step);
  const tail = histogram.max > high;
  if (tail) edges.push(high + 1);
  const counts = histogram.countsBetween(edges);
  const most = Math.max(...counts);
  const countWidth = String(most).length;
  const rows = counts.map((count, i) => {
    const from = (edges[i]! / 1000).toFixed(3);
    const label = i === DISTRIBUTION_ROWS ? `> ${from}` : `  ${from}`;
    const bar = "#".repeat(count === 0 ? 0 : Math.max(1, Math.round((count / most) * BAR_WIDTH)));
    const painted = color && bar ? `\x1b[36m${bar}\x1b[0m` : bar;
    return `  ${label.padStart(11)} ms [${String(count).padStart(countWidth)}] |${painted}`;
  });
  return ["  latency distribution", ...rows].join("\n");
}
