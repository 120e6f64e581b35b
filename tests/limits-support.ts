// Tools for the reliability tests (limits, bad input, faults, fuzz) and the soak script: a raw
// TCP peer that behaves exactly as told (never reads, half-closes, resets), a fake server that
// misbehaves on purpose, a seeded random source, and readings of a process from /proc.

import { readdirSync, readFileSync } from "node:fs";
import type { Socket, TCPSocketListener, TLSOptions } from "bun";
import { DEADLINE_MS, withDeadline } from "./helpers/processes.ts";

/** How a raw connection ended, as seen from our side. */
export type PeerEnd = "end" | "close" | "reset" | "error";

/**
 * A TCP client with no manners of its own: it writes what it is given (keeping what the kernel
 * does not take yet), records every byte it receives, and can stop reading, half-close or reset.
 */
export class RawPeer {
  readonly chunks: Buffer[] = [];
  receivedBytes = 0;
  /** LF bytes received: reply lines, for peers that count rather than keep what they receive. */
  receivedLines = 0;
  /** Keep received bytes (for `text`); off for peers that receive hundreds of megabytes. */
  keep = true;
  /** Bytes the kernel has taken from us. */
  writtenBytes = 0;
  /** Resolves once the server's FIN arrived or the socket closed, with how it ended. */
  readonly ended: Promise<PeerEnd>;
  private finish!: (how: PeerEnd) => void;
  private socket!: Socket<RawPeer>;
  private pending: Uint8Array[] = [];
  private waiters: Array<() => void> = [];

  private constructor() {
    this.ended = new Promise((resolve) => (this.finish = resolve));
  }

  /** To a TCP port, or `via` TLS (with these options) or a Unix socket (a path, `\0name` abstract). */
  static async connect(
    port: number,
    host = "127.0.0.1",
    via: { tls?: TLSOptions; unix?: string } = {},
  ): Promise<RawPeer> {
    const peer = new RawPeer();
    const where = via.unix !== undefined ? { unix: via.unix } : { hostname: host, port, tls: via.tls };
    peer.socket = await Bun.connect<RawPeer>({
      ...where,
      data: peer,
      // Our FIN must not close the socket: the server's replies to a partial line are still owed.
      allowHalfOpen: true,
      socket: {
        data: (socket, chunk) => socket.data.received(chunk),
        drain: (socket) => socket.data.flush(),
        end(socket) {
          // The server is done with us: finish the close so that neither side holds a descriptor.
          socket.data.closed("end");
          socket.end();
        },
        close: (socket, error) => socket.data.closed(isReset(error) ? "reset" : "close"),
        error: (socket, error) => socket.data.closed(isReset(error) ? "reset" : "error"),
        connectError() {},
      },
    });
    // Read now: Bun forgets it once the socket is closed.
    peer.localPort = peer.socket.localPort;
    return peer;
  }

  /** Our side's port: how the server names us in its logs (`127.0.0.1:<port>`). */
  localPort = 0;

  /** Everything received so far, decoded. */
  get text(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }

  get lines(): string[] {
    const text = this.text;
    return text === "" ? [] : text.replace(/\n$/, "").split("\n");
  }

  /** Queues bytes; they go out as the kernel takes them. */
  send(data: string | Uint8Array): void {
    this.pending.push(typeof data === "string" ? Buffer.from(data) : data);
    this.flush();
  }

  /** Bytes queued here that the kernel has not taken. */
  get queuedBytes(): number {
    return this.pending.reduce((sum, piece) => sum + piece.length, 0);
  }

  /** Resolves once everything queued is with the kernel (or the connection is gone). */
  async sent(deadlineMs = DEADLINE_MS): Promise<void> {
    await withDeadline(
      this.until(() => this.pending.length === 0),
      deadlineMs,
      "bytes not sent",
    );
  }

  /** Resolves when `test` holds (checked after every event), or rejects at the deadline. */
  async until(test: () => boolean, deadlineMs = DEADLINE_MS): Promise<void> {
    const wait = (async () => {
      while (!test() && !this.isEnded) await new Promise<void>((resolve) => this.waiters.push(resolve));
    })();
    await withDeadline(wait, deadlineMs, "condition not met");
  }

  async waitForText(pattern: string | RegExp, deadlineMs = DEADLINE_MS): Promise<void> {
    const matches = () => (typeof pattern === "string" ? this.text.includes(pattern) : pattern.test(this.text));
    await this.until(matches, deadlineMs);
    if (!matches()) throw new Error(`connection ended without ${pattern}; got: ${this.text.slice(0, 500)}`);
  }

  /** Stops reading: the kernel buffers fill and the server sees a peer that does not read. */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /** FIN: we send nothing more but keep reading. */
  halfClose(): void {
    this.socket.shutdown();
  }

  /** RST. */
  reset(): void {
    this.socket.terminate();
  }

  close(): void {
    this.socket.end();
  }

  isEnded = false;
  how: PeerEnd | undefined;

  private received(chunk: Buffer): void {
    if (this.keep) this.chunks.push(Buffer.from(chunk));
    this.receivedBytes += chunk.length;
    for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) this.receivedLines++;
    this.wake();
  }

  private flush(): void {
    while (this.pending.length > 0 && !this.isEnded) {
      const head = this.pending[0]!;
      const written = this.socket.write(head);
      if (written < 0) break;
      this.writtenBytes += written;
      if (written < head.length) {
        this.pending[0] = head.subarray(written);
        break;
      }
      this.pending.shift();
    }
    this.wake();
  }

  private closed(how: PeerEnd): void {
    if (this.isEnded) return;
    this.isEnded = true;
    this.how = how;
    this.pending = [];
    this.finish(how);
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

function isReset(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === "ECONNRESET" || code === "EPIPE";
}

/** A server that misbehaves as told: `onOpen`/`onData` get the raw socket. */
export function startFakeServer(behaviour: {
  open?(socket: Socket<undefined>): void;
  data?(socket: Socket<undefined>, chunk: Buffer): void;
}): { port: number; stop(): void } {
  const listener: TCPSocketListener<undefined> = Bun.listen<undefined>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open: (socket) => behaviour.open?.(socket),
      data: (socket, chunk) => behaviour.data?.(socket, chunk),
      error() {},
    },
  });
  return { port: listener.port, stop: () => listener.stop(true) };
}

/** A small seeded random source (mulberry32): the same seed gives the same run. */
export function seededRandom(seed: number): {
  next(): number;
  int(max: number): number;
  pick<T>(items: readonly T[]): T;
} {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (max: number) => Math.floor(next() * max);
  return { next, int, pick: (items) => items[int(items.length)]! };
}

/** Resident memory of a process, in bytes (VmRSS). */
export function residentBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(match?.[1] ?? 0) * 1024;
}

/** CPU time a process has used (user + system), in clock ticks (100 per second on Linux). */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

export const CLOCK_TICKS_PER_SECOND = 100;

/** Share of one core a process used over `ms` of wall time (0.0 to 1.0, or more on several). */
export async function cpuShareOver(pid: number, ms: number): Promise<number> {
  const before = cpuTicks(pid);
  const start = performance.now();
  await Bun.sleep(ms);
  const elapsed = performance.now() - start;
  return (cpuTicks(pid) - before) / CLOCK_TICKS_PER_SECOND / (elapsed / 1000);
}

/** Polls `test` until it holds; rejects with `what` at the deadline. */
export async function eventually(test: () => boolean, deadlineMs: number, what: string): Promise<void> {
  const start = performance.now();
  while (!test()) {
    if (performance.now() - start > deadlineMs) throw new Error(`${what} within ${deadlineMs} ms`);
    await Bun.sleep(20);
  }
}

/** How many times `pattern` (global) occurs in `text`. */
export function countMatches(text: string, pattern: RegExp): number {
  return text.match(pattern)?.length ?? 0;
}

/** Characters a terminal acts on: C0 controls (a line's own LF aside), DEL, C1, bidi controls. */
export const TERMINAL_CONTROLS = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/** What a message is, per the spec: UTF-8 with U+FFFD for bytes that are not (WHATWG decoding). */
export const decode = (bytes: Uint8Array) => new TextDecoder("utf-8").decode(bytes);

/** Reverses the server's terminal escaping (\\, \t, \n, \r, \xNN, \uNNNN), written independently. */
export function unescapeLogged(text: string): string {
  return text.replace(/\\(x[0-9a-f]{2}|u[0-9a-f]{4}|[\\tnr])/g, (_, code: string) => {
    if (code === "\\") return "\\";
    if (code === "t") return "\t";
    if (code === "n") return "\n";
    if (code === "r") return "\r";
    return String.fromCharCode(parseInt(code.slice(1), 16));
  });
}

/** File descriptors a process has open now. */
export function openFiles(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Samples `read` every few milliseconds until stopped; returns the highest value seen. */
export function sampleMax(read: () => number, everyMs = 10): { stop(): number } {
  let max = read();
  const timer = setInterval(() => {
    try {
      max = Math.max(max, read());
    } catch {
      // The process is gone: keep what was seen.
    }
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return max;
    },
  };
}

/** Sends numbered messages (`<name>-<n>`) as fast as the server takes them, until it hangs up. */
export function pump(peer: RawPeer, name: string): { sent: () => number } {
  let sent = 0;
  void (async () => {
    while (!peer.isEnded) {
      if (peer.queuedBytes < 32 * 1024) {
        let batch = "";
        for (let i = 0; i < 200; i++) batch += `${name}-${sent++}\n`;
        peer.send(batch);
      }
      await Bun.sleep(1);
    }
  })();
  return { sent: () => sent };
}
