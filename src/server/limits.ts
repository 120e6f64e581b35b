// The server's limits: each has a flag, a safe default and a counter (ServerStats), and the
// arithmetic that fits them to the process (resolveLimits, pure, unit-tested).
import { readFileSync } from "node:fs";

export interface ServerLimits {
  /** Connections served at once; the next client gets `ERROR server is full`. */
  maxConnections: number;
  /** Connections one client address may hold at once; the next gets `ERROR too many connections from your address`; 0 = no cap. */
  maxConnectionsPerAddress: number;
  /** Longest message in bytes (without its line ending). */
  maxMessageBytes: number;
  /** Close a connection after this long without input; 0 = never. */
  idleTimeoutMs: number;
  /** Replies waiting for a slow reader before the server stops reading from it. */
  maxOutputBytes: number;
}

export const DEFAULT_LIMITS: Readonly<ServerLimits> = {
  maxConnections: 10_000,
  maxConnectionsPerAddress: 0,
  maxMessageBytes: 1024 * 1024,
  idleTimeoutMs: 0,
  maxOutputBytes: 1024 * 1024,
};

/**
 * File descriptors kept free of client connections: stdio, the listeners, and clients being
 * turned away while the server is full. When accept() hits EMFILE, Bun's accept loop spins at
 * 100% CPU and reports nothing, so the server must never reach the open-file limit.
 */
export const RESERVED_FILE_DESCRIPTORS = 256;

/** Clients turned away at once that may still be reading their notice; past this, no goodbye. */
export const MAX_LINGERING_REJECTIONS = RESERVED_FILE_DESCRIPTORS / 2;

export interface ResolvedLimits {
  limits: ServerLimits;
  /** The connection limit asked for, when it had to be lowered to fit the open-file limit. */
  loweredFrom?: number;
}

/**
 * The limits in force: the defaults, overridden by what was asked, with the connection limit
 * lowered to stay RESERVED_FILE_DESCRIPTORS under the open-file limit (undefined: not known).
 * Bun raises its soft limit to the hard one at start, so the limit read here is the one that counts.
 */
export function resolveLimits(
  requested: Partial<ServerLimits> | undefined,
  fileLimit: number | undefined,
): ResolvedLimits {
  const limits: ServerLimits = { ...DEFAULT_LIMITS };
  for (const [name, value] of Object.entries(requested ?? {}) as Array<[keyof ServerLimits, unknown]>) {
    // A limit left undefined keeps its default: spread over the defaults, it would turn a limit off.
    if (value === undefined) continue;
    const least = name === "maxConnections" ? 1 : 0;
    if (typeof value !== "number" || !Number.isInteger(value) || value < least)
      throw new RangeError(`limits.${name} must be a whole number, ${least} or more (got ${String(value)})`);
    limits[name] = value;
  }
  if (fileLimit === undefined) return { limits };
  const ceiling = Math.max(1, fileLimit - RESERVED_FILE_DESCRIPTORS);
  if (limits.maxConnections <= ceiling) return { limits };
  return { limits: { ...limits, maxConnections: ceiling }, loweredFrom: limits.maxConnections };
}

/** The process's open-file limit, or undefined where it cannot be read (not Linux). */
export function openFileLimit(): number | undefined {
  try {
    const limits = readFileSync("/proc/self/limits", "utf8");
    const match = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
    if (!match || match[1] === "unlimited") return undefined;
    return Number(match[1]);
  } catch {
    return undefined;
  }
}
