// The server's limits: each has a flag, a safe default and a counter (ServerStats).
import { readFileSync } from "node:fs";

export interface ServerLimits {
  /** Connections served at once; the next client gets `ERROR server is full`. */
  maxConnections: number;
  /** Longest message in bytes (without its line ending). */
  maxMessageBytes: number;
  /** Close a connection after this long without input; 0 = never. */
  idleTimeoutMs: number;
  /** Replies waiting for a slow reader before the server stops reading from it. */
  maxOutputBytes: number;
}

export const DEFAULT_LIMITS: ServerLimits = {
  maxConnections: 10_000,
  maxMessageBytes: 1024 * 1024,
  idleTimeoutMs: 0,
  maxOutputBytes: 1024 * 1024,
};

/**
 * File descriptors kept free of client connections: stdio, the listener, and clients being
 * turned away while the server is full. At EMFILE Bun's accept loop spins at 100% CPU and says
 * nothing (BUN_NOTES.md), so the server must never reach the limit.
 */
export const RESERVED_FILE_DESCRIPTORS = 256;

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

/** The connection limit the server can really keep, given the open-file limit. */
export function connectionCeiling(fileLimit = openFileLimit()): number | undefined {
  return fileLimit === undefined ? undefined : Math.max(1, fileLimit - RESERVED_FILE_DESCRIPTORS);
}
