// --workers: how many worker processes, and when the answer is a usage error.
import { availableParallelism } from "node:os";
import { UsageError } from "../../cli/args.ts";

/** One process, no supervisor: the server as it always was. */
export const DEFAULT_WORKERS = 1;

/** More processes than this is a typo, not a deployment (each worker is a whole Bun runtime). */
export const MAX_WORKERS = 256;

/**
 * `auto` is one worker per CPU this process may run on (its affinity mask, not the machine's
 * count). Above 1 needs Linux: the workers share each port with SO_REUSEPORT, and only Linux
 * spreads a shared port's connections across the processes (macOS and the BSDs give them all to
 * one; Windows has no such option).
 */
export function parseWorkers(value: string, platform: NodeJS.Platform = process.platform): number {
  const count = value.trim() === "auto" ? availableParallelism() : wholeNumber(value);
  if (count > 1 && platform !== "linux") {
    throw new UsageError(
      `--workers above 1 needs Linux: it shares each port between processes with SO_REUSEPORT, which spreads connections only there (this is ${platform})`,
    );
  }
  return count;
}

function wholeNumber(value: string): number {
  const count = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_WORKERS) {
    throw new UsageError(`--workers must be 'auto' or a whole number from 1 to ${MAX_WORKERS}, got '${value}'`);
  }
  return count;
}

/**
 * Worker `index`'s share (1..count) of a limit that holds for the server as a whole: the kernel
 * hands each worker its own connections, so each enforces its part. The shares add up to `total`
 * exactly; the price is that a worker whose share is used up turns a client away while another
 * worker may still have room.
 */
export function shareOf(total: number, index: number, count: number): number {
  return Math.floor(total / count) + (index <= total % count ? 1 : 0);
}

/** A share of 0 would refuse every client of that worker: each needs at least one connection. */
export function checkConnectionShares(maxConnections: number, workers: number): void {
  if (maxConnections < workers) {
    throw new UsageError(
      `--max-connections (${maxConnections}) must be at least --workers (${workers}): each worker serves its share of the connections`,
    );
  }
}
