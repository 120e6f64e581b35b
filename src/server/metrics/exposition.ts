// The Prometheus text exposition: the socketlab_ families (names as in the spec) set from server
// snapshots at scrape time, the build, and prom-client's process metrics. No counting happens
// here: the server counts in ServerStats, and a scrape copies those numbers in.
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import type { ServerSnapshot } from "../events.ts";

/** One server's numbers; with `worker`, its series carry a `worker` label instead of being summed. */
export interface WorkerSnapshot extends ServerSnapshot {
  worker?: string;
}

export interface Exposition {
  /** `text/plain; version=0.0.4; charset=utf-8`. */
  readonly contentType: string;
  /** The whole exposition, with the socketlab_ families exactly as in `snapshots`. */
  render(snapshots: readonly WorkerSnapshot[]): Promise<string>;
}

/**
 * prom-client reports these totals as gauges named `_total`, a suffix Prometheus keeps for
 * counters, which `promtool check metrics` flags. The per-type gauges beside them stay.
 */
const MISNAMED_DEFAULT_METRICS = [
  "nodejs_active_handles_total",
  "nodejs_active_requests_total",
  "nodejs_active_resources_total",
];

/**
 * V8's heap spaces, which Bun's JavaScriptCore does not have: 39 series, nearly all 0, and
 * reading them cost 4 ms of each scrape, all of it time in which a single-process server
 * answers no client. nodejs_heap_size_total_bytes and _used_bytes stay.
 */
const HEAP_SPACE_METRICS = [
  "nodejs_heap_space_size_total_bytes",
  "nodejs_heap_space_size_used_bytes",
  "nodejs_heap_space_size_available_bytes",
];

interface Family {
  metric: Counter | Gauge;
  /** One number, or one per value of the family's label (`reason`, `limit`). */
  read(snapshot: ServerSnapshot): number | Readonly<Record<string, number>>;
  label?: string;
}

export function createExposition(version: string): Exposition {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const name of [...MISNAMED_DEFAULT_METRICS, ...HEAP_SPACE_METRICS]) registry.removeSingleMetric(name);
  new Gauge({
    name: "socketlab_build_info",
    help: "The socket-lab version serving (always 1).",
    labelNames: ["version"],
    registers: [registry],
  }).set({ version }, 1);

  const family = (
    kind: typeof Counter | typeof Gauge,
    name: string,
    help: string,
    read: Family["read"],
    label?: string,
  ): Family => ({
    metric: new kind({ name, help, labelNames: label ? ["worker", label] : ["worker"], registers: [registry] }),
    read,
    label,
  });
  const families: Family[] = [
    family(Gauge, "socketlab_connections_active", "Connections being served now.", (s) => s.active),
    family(
      Counter,
      "socketlab_connections_accepted_total",
      "Connections admitted to be served.",
      (s) => s.stats.connectionsAccepted,
    ),
    family(
      Counter,
      "socketlab_connections_rejected_total",
      "Clients turned away with a notice, by reason.",
      (s) => s.stats.rejected,
      "reason",
    ),
    family(
      Counter,
      "socketlab_messages_total",
      "Messages received (each is acknowledged).",
      (s) => s.stats.messagesReceived,
    ),
    family(Counter, "socketlab_received_bytes_total", "Bytes read from clients.", (s) => s.stats.receivedBytes),
    family(Counter, "socketlab_sent_bytes_total", "Bytes written to clients.", (s) => s.stats.sentBytes),
    family(
      Counter,
      "socketlab_limit_hits_total",
      "Limits hit (each counted once per connection), by limit.",
      (s) => s.stats.limitHits,
      "limit",
    ),
    family(
      Counter,
      "socketlab_undelivered_reply_bytes_total",
      "Reply bytes dropped because a closing client stopped reading them.",
      (s) => s.stats.undeliveredReplyBytes,
    ),
  ];

  return {
    contentType: registry.contentType,
    render(snapshots) {
      // One synchronous pass, and metrics() reads these families before its first await: two
      // scrapes at once each show one whole set of snapshots, never a mix.
      for (const { metric, read, label } of families) {
        metric.reset();
        for (const snapshot of snapshots) {
          const labels = snapshot.worker === undefined ? {} : { worker: snapshot.worker };
          const value = read(snapshot);
          if (typeof value === "number") metric.inc(labels, value);
          else for (const [key, count] of Object.entries(value)) metric.inc({ ...labels, [label!]: key }, count);
        }
      }
      return registry.metrics();
    },
  };
}
