import { describe, expect, test } from "bun:test";
import { Histogram } from "../src/bench/histogram.ts";
import { formatDistribution } from "../src/bench/report.ts";

describe("latency histogram", () => {
  test("percentiles of 1..100000 us are within 1% and never under-reported", () => {
    const histogram = new Histogram();
    // Shuffled order: the histogram must not depend on it.
    for (let i = 0; i < 100_000; i++) histogram.record(((i * 7919) % 100_000) + 1);
    expect(histogram.count).toBe(100_000);
    expect(histogram.min).toBe(1);
    expect(histogram.max).toBe(100_000);
    expect(histogram.mean).toBeCloseTo(50_000.5, 1);
    for (const [percentile, exact] of [
      [50, 50_000],
      [90, 90_000],
      [99, 99_000],
      [99.9, 99_900],
    ] as const) {
      const value = histogram.percentile(percentile);
      expect(value).toBeGreaterThanOrEqual(exact);
      expect(value).toBeLessThanOrEqual(exact * 1.01);
    }
    expect(histogram.percentile(100)).toBe(100_000);
  });

  test("small values are exact, and a lone outlier shows only in the tail", () => {
    const histogram = new Histogram();
    for (let i = 0; i < 999; i++) histogram.record(42);
    histogram.record(3_000_000);
    expect(histogram.percentile(50)).toBe(42);
    expect(histogram.percentile(99.9)).toBe(42);
    expect(histogram.percentile(99.95)).toBeGreaterThanOrEqual(3_000_000);
    expect(histogram.max).toBe(3_000_000);
  });

  test("merging two histograms equals recording everything in one", () => {
    const a = new Histogram();
    const b = new Histogram();
    const both = new Histogram();
    for (let i = 1; i <= 5000; i++) {
      (i % 2 ? a : b).record(i * 3);
      both.record(i * 3);
    }
    a.add(b);
    for (const p of [1, 50, 99, 99.9]) expect(a.percentile(p)).toBe(both.percentile(p));
    expect([a.count, a.min, a.max, a.mean]).toEqual([both.count, both.min, both.max, both.mean]);
  });

  test("an empty histogram reports zeros", () => {
    const histogram = new Histogram();
    expect([histogram.count, histogram.percentile(99), histogram.mean]).toEqual([0, 0, 0]);
  });

  test("countsBetween puts every sample in one range: below the first edge counts in the first", () => {
    const histogram = new Histogram();
    for (let value = 0; value < 1000; value++) histogram.record(value);
    const counts = histogram.countsBetween([0, 100, 500]);
    expect(counts).toEqual([100, 400, 500]);
    expect(histogram.countsBetween([200])).toEqual([1000]);
  });
});

describe("formatDistribution", () => {
  test("one row per range with its count and a bar; the tail past p99.9 has its own row", () => {
    const histogram = new Histogram();
    for (let i = 0; i < 999; i++) histogram.record(100 + (i % 100));
    histogram.record(50_000);
    const rows = formatDistribution(histogram, { color: false }).split("\n").slice(1);
    expect(rows).toHaveLength(11);
    expect(rows.at(-1)).toMatch(/^ +> [\d.]+ ms \[ *1\] \|#$/);
    const counts = rows.map((row) => Number(/\[ *(\d+)\]/.exec(row)![1]));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(1000);
    // The fullest row gets the whole bar.
    expect(Math.max(...rows.map((row) => row.split("|")[1]!.length))).toBe(40);
    expect(formatDistribution(histogram, { color: true })).toContain("\x1b[36m");
    expect(formatDistribution(new Histogram(), { color: false })).toBe("");
  });
});
