// How `client bench` shows a run: a progress line while it runs and a summary at the end, in the
// spirit of redis-benchmark. The JSON form is the BenchResult itself.
import { formatTarget } from "../net/address.ts";
import type { BenchProgress, BenchResult } from "./generator.ts";

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
