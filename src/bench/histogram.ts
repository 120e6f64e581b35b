// Latency histogram in the style of HdrHistogram: fixed memory, O(1) record, and percentiles with a
// bounded relative error, however many samples. Values are whole microseconds. Each power of two
// is cut into SUB_BUCKETS equal buckets, so a value is known to within 1/SUB_BUCKETS (under 1%);
// values below 2 * SUB_BUCKETS are exact.

const PRECISION_BITS = 7;
const SUB_BUCKETS = 1 << PRECISION_BITS;
/** Largest exponent kept: 2^32 us is over an hour; anything longer is clamped there. */
const MAX_EXPONENT = 32;
const BUCKET_COUNT = 2 * SUB_BUCKETS + (MAX_EXPONENT - PRECISION_BITS - 1) * SUB_BUCKETS;
const MAX_VALUE = 2 ** MAX_EXPONENT - 1;

export class Histogram {
  private readonly counts = new Float64Array(BUCKET_COUNT);
  count = 0;
  min = Infinity;
  max = 0;
  private sum = 0;

  /** Records one value in microseconds (fractions are rounded; negatives count as 0). */
  record(valueUs: number): void {
    const value = Math.min(MAX_VALUE, Math.max(0, Math.round(valueUs)));
    this.counts[bucketOf(value)]!++;
    this.count++;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  /** Adds another histogram's samples to this one. */
  add(other: Histogram): void {
    for (let i = 0; i < BUCKET_COUNT; i++) this.counts[i]! += other.counts[i]!;
    this.count += other.count;
    this.sum += other.sum;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
  }

  get mean(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  /**
   * The value below or at which `percentile` % of the samples fall, as the highest value of its
   * bucket (HdrHistogram's convention: never under-reports), and never above the true maximum.
   */
  percentile(percentile: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil((percentile * this.count) / 100));
    let seen = 0;
    for (let i = 0; i < BUCKET_COUNT; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(this.max, highestValueOf(i));
    }
    return this.max;
  }

  /**
   * How many samples fall in each of the ranges [edges[i], edges[i+1]) (microseconds; each
   * bucket counted by its highest value, as percentile() does), and how many at or past the last.
   */
  countsBetween(edges: readonly number[]): number[] {
    const counts = new Array<number>(edges.length).fill(0);
    for (let i = 0; i < BUCKET_COUNT; i++) {
      const count = this.counts[i]!;
      if (count === 0) continue;
      const value = Math.min(this.max, highestValueOf(i));
      let bin = 0;
      while (bin + 1 < edges.length && value >= edges[bin + 1]!) bin++;
      counts[bin]! += count;
    }
    return counts;
  }
}

function bucketOf(value: number): number {
  if (value < 2 * SUB_BUCKETS) return value;
  const exponent = 31 - Math.clz32(value);
  const shift = exponent - PRECISION_BITS;
  return 2 * SUB_BUCKETS + (shift - 1) * SUB_BUCKETS + ((value >>> shift) - SUB_BUCKETS);
}

function highestValueOf(bucket: number): number {
  if (bucket < 2 * SUB_BUCKETS) return bucket;
  const shift = Math.floor((bucket - 2 * SUB_BUCKETS) / SUB_BUCKETS) + 1;
  const sub = SUB_BUCKETS + ((bucket - 2 * SUB_BUCKETS) % SUB_BUCKETS);
  return (sub + 1) * 2 ** shift - 1;
}
