// The suite's results as one SVG picture, drawn by hand (a few rectangles and labels need no
// plotting library): per scenario, each server's throughput as a bar with its server CPU per
// message beside it, and a second panel with the latency percentiles (p50, p99, p99.9) per server.
import type { Measurement, SuiteResults } from "./targets.ts";

const WIDTH = 1000;
const ROW = 22;
const LABEL_WIDTH = 300;
const BAR_SPACE = WIDTH - LABEL_WIDTH - 150;
const PERCENTILES = [
  ["p50", "#4c78a8"],
  ["p99", "#f58518"],
  ["p999", "#e45756"],
] as const;

const escapeXml = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const text = (x: number, y: number, content: string, attributes = "") =>
  `<text x="${x}" y="${y}" ${attributes}>${escapeXml(content)}</text>`;

export function renderChart(results: SuiteResults, titles: Record<string, string>): string {
  const scenarios = [...new Set(results.measurements.map((m) => m.scenario))];
  const parts: string[] = [];
  let y = 30;
  parts.push(
    text(
      10,
      y,
      `socket-lab benchmarks, ${results.date.slice(0, 10)}: throughput (msg/s) and server CPU per message`,
      'font-weight="bold"',
    ),
  );
  y += 15;
  for (const scenario of scenarios) {
    const rows = results.measurements.filter((m) => m.scenario === scenario);
    const most = Math.max(...rows.map((m) => m.result.messagesPerSecond), 1);
    y += ROW;
    parts.push(text(10, y, titles[scenario] ?? scenario, 'font-style="italic"'));
    for (const m of rows) {
      y += ROW;
      const width = (m.result.messagesPerSecond / most) * BAR_SPACE;
      const ours = m.server.startsWith("socket-lab");
      parts.push(text(LABEL_WIDTH - 8, y - 6, m.label, 'text-anchor="end"'));
      parts.push(
        `<rect x="${LABEL_WIDTH}" y="${y - ROW + 6}" width="${width.toFixed(1)}" height="${ROW - 8}" fill="${ours ? "#54a24b" : "#9d9d9d"}"/>`,
      );
      parts.push(
        text(
          LABEL_WIDTH + width + 6,
          y - 6,
          `${Math.round(m.result.messagesPerSecond).toLocaleString("en-US")}${cpu(m)}`,
        ),
      );
    }
  }
  y += 2 * ROW;
  parts.push(text(10, y, "latency percentiles (ms)", 'font-weight="bold"'));
  parts.push(
    ...PERCENTILES.map(
      ([name, colour], i) =>
        `<rect x="${LABEL_WIDTH + i * 90}" y="${y - 11}" width="12" height="12" fill="${colour}"/>${text(LABEL_WIDTH + 16 + i * 90, y, name === "p999" ? "p99.9" : name)}`,
    ),
  );
  for (const scenario of scenarios) {
    const rows = results.measurements.filter((m) => m.scenario === scenario);
    const slowest = Math.max(...rows.map((m) => m.result.latencyMs.p999), 0.001);
    y += ROW;
    parts.push(text(10, y, titles[scenario] ?? scenario, 'font-style="italic"'));
    for (const m of rows) {
      y += ROW;
      parts.push(text(LABEL_WIDTH - 8, y - 6, m.label, 'text-anchor="end"'));
      // Drawn longest first, so each shorter bar stays visible on top of the longer ones.
      for (const [name, colour] of [...PERCENTILES].reverse()) {
        const width = (m.result.latencyMs[name] / slowest) * BAR_SPACE;
        parts.push(
          `<rect x="${LABEL_WIDTH}" y="${y - ROW + 6}" width="${width.toFixed(1)}" height="${ROW - 8}" fill="${colour}"/>`,
        );
      }
      const l = m.result.latencyMs;
      parts.push(
        text(LABEL_WIDTH + BAR_SPACE + 6, y - 6, `${l.p50.toFixed(2)} / ${l.p99.toFixed(2)} / ${l.p999.toFixed(2)}`),
      );
    }
  }
  const height = y + ROW;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...parts,
    "</svg>",
    "",
  ].join("\n");
}

function cpu(m: Measurement): string {
  return m.serverCpuUsPerMessage === undefined ? "" : `  (${m.serverCpuUsPerMessage.toFixed(2)} us/msg)`;
}
