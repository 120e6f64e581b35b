// Flags more than one program shares, defined once, and the checks citty leaves to us (it has no number
// type and accepts unknown flags silently). Every bad value is a UsageError: exit code 2.
import { LOG_LEVELS, type LogLevelName } from "../output/logger.ts";
import { FRAMINGS, type Framing } from "../protocol/messages.ts";
import type { HelpArgDef, HelpArgsDef, HelpGroup } from "./help.ts";

export class UsageError extends Error {
  override name = "UsageError";
}

/** --framing, for a program whose default is `framing`, listed in `group`. */
export function framingArg<Group extends HelpGroup>(framing: Framing, group: Group) {
  return {
    type: "enum",
    options: [...FRAMINGS],
    group,
    description: "line: one message per LF-terminated line; raw: one message per read (the tutorial's protocol)",
    default: framing,
  } as const satisfies HelpArgDef;
}

export const logLevelArg = {
  type: "enum",
  options: [...LOG_LEVELS],
  valueHint: "LEVEL",
  group: "output",
  description: `Lowest level of status lines shown on stderr: ${LOG_LEVELS.join(", ")} (debug adds stack traces)`,
  default: "info",
} as const satisfies HelpArgDef;

/** Where the client and its load generator connect, with the program's own defaults. */
export function connectArgs(defaults: { host: string; port: number; framing: Framing }) {
  return {
    host: {
      type: "string",
      valueHint: "HOST",
      group: "connection",
      description: "Server to connect to: a name or an address (IPv6 too)",
      default: defaults.host,
    },
    port: {
      type: "string",
      valueHint: "PORT",
      group: "connection",
      description: "Server's TCP port",
      default: String(defaults.port),
    },
    framing: framingArg(defaults.framing, "connection"),
  } as const satisfies HelpArgsDef;
}

/** How --help shows a default in milliseconds: as the seconds a flag takes (5000 -> "5"). */
export function formatSeconds(ms: number): string {
  return String(ms / 1000);
}

/** How --help shows a default size: as parseBytes reads it (1048576 -> "1m", 65536 -> "64k"). */
export function formatBytes(bytes: number): string {
  for (const [unit, scale] of [
    ["g", 1024 ** 3],
    ["m", 1024 ** 2],
    ["k", 1024],
  ] as const)
    if (bytes >= scale && bytes % scale === 0) return `${bytes / scale}${unit}`;
  return String(bytes);
}

export function parsePort(value: string, { allowZero }: { allowZero: boolean }): number {
  const port = parseInteger("port", value);
  const min = allowZero ? 0 : 1;
  if (port < min || port > 65535) throw new UsageError(`--port must be between ${min} and 65535, got ${value}`);
  return port;
}

export function parseFraming(value: string): Framing {
  if ((FRAMINGS as readonly string[]).includes(value)) return value as Framing;
  throw new UsageError(`--framing must be one of ${FRAMINGS.join(", ")}, got ${value}`);
}

export function parseLogLevel(value: string): LogLevelName {
  if ((LOG_LEVELS as readonly string[]).includes(value)) return value as LogLevelName;
  throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(", ")}, got ${value}`);
}

/** A whole number of at least `min`. */
export function parseInteger(flag: string, value: string, min = 0): number {
  if (!/^\d+$/.test(value.trim())) throw new UsageError(`--${flag} must be a whole number, got '${value}'`);
  const number = Number(value);
  if (!Number.isSafeInteger(number))
    throw new UsageError(`--${flag} is too large (at most ${Number.MAX_SAFE_INTEGER}), got ${value}`);
  if (number < min) throw new UsageError(`--${flag} must be at least ${min}, got ${value}`);
  return number;
}

/**
 * Seconds (fractions allowed) as milliseconds. 0 is allowed: "off" for the timeouts that wait for
 * something (connect, response, idle), "do not wait" for the shutdown ones (drain, close).
 */
export function parseSeconds(flag: string, value: string): number {
  const seconds = Number(value);
  if (value.trim() === "" || !Number.isFinite(seconds) || seconds < 0) {
    throw new UsageError(`--${flag} must be a number of seconds (0 or more), got '${value}'`);
  }
  if (seconds * 1000 > MAX_TIMER_MS) {
    throw new UsageError(`--${flag} must be at most ${Math.floor(MAX_TIMER_MS / 1000)} seconds, got ${value}`);
  }
  return Math.round(seconds * 1000);
}

/** Timers take at most 2^31-1 ms (24.8 days): a longer one fires at once, with a warning on stderr. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A deadline a client or proxy must meet (the TLS handshake, the PROXY header): more than 0, as a
 * deadline of 0 would close every client before it could begin.
 */
export function parseDeadline(flag: string, value: string): number {
  const ms = parseSeconds(flag, value);
  if (ms === 0) throw new UsageError(`--${flag} must be more than 0 seconds`);
  return ms;
}

/** A size such as 1048576, 64k, 1m (powers of 1024). */
export function parseBytes(flag: string, value: string, min = 1): number {
  const match = /^(\d+)\s*([kmg]i?b?)?$/i.exec(value.trim());
  if (!match) throw new UsageError(`--${flag} must be a size in bytes (like 65536, 64k or 1m), got '${value}'`);
  const unit = (match[2] ?? "").charAt(0).toLowerCase();
  const scale = unit === "k" ? 1024 : unit === "m" ? 1024 ** 2 : unit === "g" ? 1024 ** 3 : 1;
  const bytes = Number(match[1]) * scale;
  if (!Number.isSafeInteger(bytes) || bytes < min)
    throw new UsageError(`--${flag} must be at least ${min} bytes, got ${value}`);
  return bytes;
}

/** File permissions in octal, as chmod takes them: 660, 0660, 0o660. */
export function parseOctalMode(flag: string, value: string): number {
  // Permission bits only (000 to 777): setuid, setgid and sticky mean nothing on a socket file.
  const match = /^(?:0o)?0*([0-7]{1,3})$/i.exec(value.trim());
  if (!match) throw new UsageError(`--${flag} must be an octal file mode from 000 to 777, like 0660, got '${value}'`);
  return Number.parseInt(match[1]!, 8);
}

/**
 * `HOST:PORT` or `[IPV6]:PORT` (port 0: any free port). An IPv6 address needs its brackets:
 * in `::1:9100` nobody can tell where the address ends. Whether the host exists is for the bind.
 */
export function parseHostPort(flag: string, value: string): { host: string; port: number } {
  const match = /^(?:\[([^\]\s]*:[^\]\s]*)\]|([^\s:[\]/]+)):(\d{1,5})$/.exec(value.trim());
  const port = Number(match?.[3]);
  if (!match || port > 65535) {
    throw new UsageError(`--${flag} must be HOST:PORT or [IPV6]:PORT with a port from 0 to 65535, got '${value}'`);
  }
  return { host: (match[1] ?? match[2])!, port };
}
