// The load generator behind `client bench` and `bun run bench`: N connections, each sending a batch
// of `pipeline` messages and waiting for as many replies before the next batch (redis-benchmark's
// -P), for a duration or a message count. It counts reply lines (LFs) without decoding them, so it
// drives any server that answers each line with one line (redis-server answers PING with +PONG);
// in raw framing each read is one reply. Per connection it keeps a few numbers and no buffers:
// the generator must stay cheaper than the servers it measures.

import type { Socket } from "bun";
import { ConnectError, type ConnectFailure, type ConnectTarget, connectWithTimeout } from "../net/connect.ts";
import { describeTlsError, isTlsError } from "../net/tls-failure.ts";
import { type Framing, NOTICE_PREFIX, notices } from "../protocol/messages.ts";
import { formatProxyV1 } from "../protocol/proxy-header.ts";
import { BENCH_DEFAULTS } from "./defaults.ts";
import { Histogram } from "./histogram.ts";

export interface BenchOptions extends ConnectTarget {
  connections: number;
  /** Messages in flight per connection: sent in one write, all replies awaited before the next. */
  pipeline: number;
  message: string;
  framing: Framing;
  /** Run this long once every connection is open (BENCH_DEFAULTS.durationMs if not given)... */
  durationMs?: number;
  /** ...or until this many messages are acknowledged (whichever is given; count wins). */
  requests?: number;
  connectTimeoutMs: number;
  /**
   * End the run when no reply at all arrives for this long (a stuck server); 0 = never, and
   * BENCH_DEFAULTS.responseTimeoutMs if not given.
   */
  responseTimeoutMs?: number;
  /** Called about once a second while messages flow. */
  onProgress?(progress: BenchProgress): void;
  /** Called for each connection that could not be opened (TLS failures after the handshake too), to say why. */
  onConnectFailure?(failure: ConnectFailure): void;
  /** Where the latencies are recorded, for a caller that draws their distribution. */
  histogram?: Histogram;
  /** Start each connection with a PROXY protocol v1 header naming its own endpoints. */
  sendProxyHeader?: boolean;
  /** Called for each `ERROR <notice>` a server sends (the connection ends), with its text. */
  onNotice?(text: string): void;
  /** Aborted: the run ends now (Ctrl+C), and the result is of what was measured until then. */
  signal?: AbortSignal;
}

export interface BenchProgress {
  elapsedMs: number;
  messages: number;
  errors: number;
}

export type ErrorKind =
  | "refused"
  | "connect-timeout"
  | "connect-error"
  | "unresolved"
  | "tls"
  | "closed"
  | "reset"
  | "socket-error"
  | "no-response"
  /** The server sent `ERROR <notice>` (server is full, shutting down, ...) and closes. */
  | "notice";

export interface BenchResult {
  host: string;
  port: number;
  /** Set when the run went to a Unix socket (host and port were not used). */
  unix?: string;
  tls: boolean;
  framing: Framing;
  message: string;
  connections: number;
  /** Connections that opened and were served (not turned away at once); the rest are counted in errors. */
  connected: number;
  pipeline: number;
  /** Time from the first batch to the end of the run. */
  elapsedMs: number;
  /** How long it took to open every connection (not part of elapsedMs). */
  connectMs: number;
  messages: number;
  messagesPerSecond: number;
  errors: number;
  errorKinds: Partial<Record<ErrorKind, number>>;
  latencyMs: { min: number; mean: number; p50: number; p90: number; p99: number; p999: number; max: number };
}

/** Connects opened at once while ramping up: more would overflow the server's accept backlog. */
const CONNECT_CONCURRENCY = 128;
const LF = 0x0a;

type BenchSocket = Socket<Worker | undefined>;

/** One connection's state: how many replies the current batch still owes, and when it was sent. */
class Worker {
  owed = 0;
  sentAt = 0;
  /** When this connection last sent a batch or got a reply: the response timeout counts from it. */
  heardAt = 0;
  /** It got a reply once: a notice after that ends a served connection, not one turned away. */
  replied = false;
  /** It is in the run's count of connected connections. */
  counted = false;
  /** Bytes of the current batch the kernel has not taken yet (rare: batches are small). */
  unsent: Uint8Array | undefined;
  closedByUs = false;
  /** The last read ended with a whole line: the next one starts a reply. */
  private atLineStart = true;

  constructor(
    readonly socket: BenchSocket,
    private readonly run: Run,
    /** The server sent a notice instead of a reply: the connection is over. */
    private readonly noticed: (worker: Worker, text: string) => void,
  ) {}

  sendBatch(): void {
    const count = this.run.takeBudget();
    if (count === 0) return this.run.retire(this);
    this.owed = count;
    this.sentAt = performance.now();
    this.heardAt = this.sentAt;
    this.write(
      count === this.run.pipeline ? this.run.batch : this.run.batch.subarray(0, count * this.run.messageBytes),
    );
  }

  write(bytes: Uint8Array): void {
    const written = this.socket.write(bytes);
    this.unsent = written >= 0 && written < bytes.length ? bytes.subarray(written) : undefined;
  }

  /**
   * Counts reply lines without decoding them, but a line that starts with `ERROR ` (a notice; an
   * ack starts with `Message '`, a redis reply with `+`) is not a reply: it ends the connection.
   * (A notice split across reads at its first bytes is counted as a reply: notices come whole.)
   */
  received(chunk: Buffer): void {
    let replies = 0;
    let notice: string | undefined;
    if (this.run.framing === "raw") {
      if (isNoticeAt(chunk, 0)) notice = chunk.toString("utf8", NOTICE_PREFIX_BYTES.length);
      else replies = 1;
    } else {
      let start = this.atLineStart ? 0 : -1;
      for (let lf = chunk.indexOf(LF); lf !== -1; lf = chunk.indexOf(LF, lf + 1)) {
        if (start !== -1 && isNoticeAt(chunk, start)) {
          notice = chunk.toString("utf8", start + NOTICE_PREFIX_BYTES.length, lf);
          break;
        }
        replies++;
        start = lf + 1;
      }
      this.atLineStart = chunk[chunk.length - 1] === LF;
    }
    if (replies > 0) {
      const now = performance.now();
      if (this.run.measuring) this.run.recordReplies(replies, now - this.sentAt);
      this.owed -= replies;
      this.heardAt = now;
      this.replied = true;
    }
    if (notice !== undefined) return this.noticed(this, notice);
    if (replies > 0 && this.owed <= 0) {
      if (this.run.measuring) this.sendBatch();
      else this.run.closeStopped(this);
    }
  }
}

const NOTICE_PREFIX_BYTES = Buffer.from(NOTICE_PREFIX);

function isNoticeAt(bytes: Uint8Array, start: number): boolean {
  if (bytes[start] !== NOTICE_PREFIX_BYTES[0]) return false;
  for (let i = 1; i < NOTICE_PREFIX_BYTES.length; i++) if (bytes[start + i] !== NOTICE_PREFIX_BYTES[i]) return false;
  return true;
}

/** The state of one benchmark run, shared by its workers. */
class Run {
  readonly histogram: Histogram;
  readonly framing: Framing;
  readonly pipeline: number;
  readonly batch: Uint8Array;
  readonly messageBytes: number;
  measuring = false;
  messages = 0;
  errors = 0;
  /** Connections open and served: opened, less those turned away (a notice before any reply). */
  connected = 0;
  /** How long a connection may wait for a reply (0: for ever), for the end of the run too. */
  responseTimeoutMs = 0;
  readonly errorKinds: Partial<Record<ErrorKind, number>> = {};
  readonly workers = new Set<Worker>();
  private budget: number;
  private readonly allDone = Promise.withResolvers<void>();

  constructor(options: BenchOptions) {
    this.histogram = options.histogram ?? new Histogram();
    this.framing = options.framing;
    this.pipeline = options.framing === "raw" ? 1 : options.pipeline;
    const framed = options.framing === "line" ? `${options.message}\n` : options.message;
    const one = Buffer.from(framed);
    this.messageBytes = one.length;
    this.batch = Buffer.alloc(one.length * this.pipeline, one);
    this.budget = options.requests ?? Infinity;
  }

  get done(): Promise<void> {
    return this.allDone.promise;
  }

  takeBudget(): number {
    if (!this.measuring) return 0;
    const count = Math.min(this.pipeline, this.budget);
    this.budget -= count;
    return count;
  }

  /** Messages a lost connection took and will never see acknowledged: another connection sends them. */
  giveBack(count: number): void {
    if (this.measuring && count > 0) this.budget += count;
  }

  recordReplies(count: number, latencyMs: number): void {
    this.messages += count;
    const latencyUs = latencyMs * 1000;
    for (let i = 0; i < count; i++) this.histogram.record(latencyUs);
  }

  error(kind: ErrorKind): void {
    this.errors++;
    this.errorKinds[kind] = (this.errorKinds[kind] ?? 0) + 1;
  }

  /** The worker has sent its share: close its connection. */
  retire(worker: Worker): void {
    worker.closedByUs = true;
    worker.socket.end();
    this.forget(worker);
  }

  /** The worker is gone (retired or lost); the run is done when none is left. */
  forget(worker: Worker): void {
    // While connections are still opening, the last one lost is not the end: more may open.
    if (this.workers.delete(worker) && this.workers.size === 0 && this.measuring) this.allDone.resolve();
  }

  /**
   * Ends the run: nothing more is counted or sent. A connection still owed replies is closed once
   * they are in (closeStopped) or by closeAll(): closing it with replies on their way would make the
   * close a reset, which the server would log as one for every connection of the run.
   */
  stop({ waitForReplies = true } = {}): void {
    this.measuring = false;
    for (const worker of this.workers) {
      worker.closedByUs = true;
      if (waitForReplies && worker.owed > 0) this.stopped.add(worker);
      else worker.socket.end();
    }
    this.workers.clear();
    this.allDone.resolve();
  }

  /** Stopped connections still owed replies. */
  private readonly stopped = new Set<Worker>();
  private readonly allStoppedClosed = Promise.withResolvers<void>();

  /** A stopped connection has its replies (or is gone): close it. */
  closeStopped(worker: Worker): void {
    if (!this.stopped.delete(worker)) return;
    worker.socket.end();
    if (this.stopped.size === 0) this.allStoppedClosed.resolve();
  }

  /**
   * After stop(): waits for the replies still on their way, then closes every connection; one
   * still owed replies then is a no-response error. The wait is `graceMs`, or until each
   * connection has gone the response timeout without a reply, whichever is later, and a reply
   * moves that connection's deadline on, as during the run: a server slower than the grace is
   * not a dead one, and a dead one is known by then. With the timeout off (0), the grace, and
   * nothing is counted; interrupted (`signal`), the grace, and nothing is held against the server.
   */
  async closeAll(graceMs: number, signal?: AbortSignal): Promise<void> {
    const graceEnd = performance.now() + graceMs;
    const interrupted = () => signal?.aborted === true;
    const aborted = new Promise<void>((resolve) => signal?.addEventListener("abort", () => resolve(), { once: true }));
    while (this.stopped.size > 0) {
      const now = performance.now();
      let waitMs = graceEnd - now;
      if (!interrupted() && this.responseTimeoutMs > 0)
        for (const worker of this.stopped) waitMs = Math.max(waitMs, worker.heardAt + this.responseTimeoutMs - now);
      if (waitMs <= 0) break;
      let timer: Timer | undefined;
      await Promise.race([
        this.allStoppedClosed.promise,
        ...(interrupted() ? [] : [aborted]),
        new Promise((resolve) => (timer = setTimeout(resolve, waitMs))),
      ]);
      clearTimeout(timer);
    }
    const counted = !interrupted() && this.responseTimeoutMs > 0;
    for (const worker of this.stopped) {
      if (counted) this.error("no-response");
      worker.socket.end();
    }
    this.stopped.clear();
  }

  /** The connection is lost to the run (`kind` says how): an error, and the others go on. */
  lose(worker: Worker, kind: ErrorKind): void {
    worker.closedByUs = true;
    this.error(kind);
    // Turned away before any reply: it was never served.
    if (worker.counted && !worker.replied && (kind === "notice" || kind === "tls")) this.connected--;
    // -n N means N acknowledged: what the lost connection still owed goes to the others.
    this.giveBack(worker.owed);
    this.forget(worker);
  }

  /** The server stopped answering this one connection. */
  giveUp(worker: Worker): void {
    this.lose(worker, "no-response");
    worker.socket.terminate();
  }
}

export async function runBench(options: BenchOptions): Promise<BenchResult> {
  const run = new Run(options);
  const responseTimeoutMs = options.responseTimeoutMs ?? BENCH_DEFAULTS.responseTimeoutMs;
  run.responseTimeoutMs = responseTimeoutMs;
  const connectStart = performance.now();
  await openConnections(run, options);
  const connectMs = performance.now() - connectStart;

  const start = performance.now();
  run.measuring = true;
  const stopNow = () => run.stop();
  options.signal?.addEventListener("abort", stopNow);
  let lastCount = 0;
  let lastProgressAt = start;
  const progress = setInterval(() => {
    const now = performance.now();
    options.onProgress?.({ elapsedMs: now - start, messages: run.messages, errors: run.errors });
    if (run.messages !== lastCount) {
      lastCount = run.messages;
      lastProgressAt = now;
    } else if (responseTimeoutMs > 0 && now - lastProgressAt >= responseTimeoutMs) {
      // Every connection is waiting on a server that stopped answering: each is an error.
      for (let i = 0; i < run.workers.size; i++) run.error("no-response");
      run.stop({ waitForReplies: false });
      return;
    }
    // One connection the server stopped answering while the others are served.
    if (responseTimeoutMs > 0)
      for (const worker of [...run.workers])
        if (worker.owed > 0 && now - worker.heardAt >= responseTimeoutMs) run.giveUp(worker);
  }, 1000);
  const deadline =
    options.requests === undefined
      ? setTimeout(() => run.stop(), options.durationMs ?? BENCH_DEFAULTS.durationMs)
      : undefined;
  if (run.workers.size === 0 || options.signal?.aborted) run.stop();
  for (const worker of [...run.workers]) worker.sendBatch();
  await run.done;
  const elapsedMs = performance.now() - start;
  clearInterval(progress);
  clearTimeout(deadline);
  options.signal?.removeEventListener("abort", stopNow);
  run.stop();
  // Replies to the last batches are a round trip away (a server that stopped answering was given
  // up on without waiting: no-response). They are not counted: the clock has stopped.
  await run.closeAll(STOP_GRACE_MS, options.signal);

  const h = run.histogram;
  const ms = (us: number) => us / 1000;
  return {
    host: options.host,
    port: options.port,
    unix: options.unix,
    tls: options.tls !== undefined,
    framing: options.framing,
    message: options.message,
    connections: options.connections,
    connected: run.connected,
    pipeline: run.pipeline,
    elapsedMs,
    connectMs,
    messages: run.messages,
    messagesPerSecond: elapsedMs > 0 ? (run.messages * 1000) / elapsedMs : 0,
    errors: run.errors,
    errorKinds: run.errorKinds,
    latencyMs: {
      min: ms(h.count === 0 ? 0 : h.min),
      mean: ms(h.mean),
      p50: ms(h.percentile(50)),
      p90: ms(h.percentile(90)),
      p99: ms(h.percentile(99)),
      p999: ms(h.percentile(99.9)),
      max: ms(h.max),
    },
  };
}

/** How long the end of a run waits for the replies to its last batches before closing anyway. */
const STOP_GRACE_MS = 1000;

const CONNECT_ERROR_KINDS: Record<ConnectFailure["kind"], ErrorKind> = {
  refused: "refused",
  "no-socket": "refused",
  "no-permission": "connect-error",
  timeout: "connect-timeout",
  unresolved: "unresolved",
  tls: "tls",
  reset: "connect-error",
  error: "connect-error",
};

/** Opens every connection, a bounded number at a time; failures are counted, not thrown. */
async function openConnections(run: Run, options: BenchOptions): Promise<void> {
  let next = 0;
  const openOne = async (): Promise<void> => {
    try {
      const worker = await connectWithTimeout<Worker>({
        target: options,
        timeoutMs: options.connectTimeoutMs,
        attach: (socket) => new Worker(socket, run, noticed),
        handlers: {
          data: (socket, chunk) => socket.data?.received(chunk),
          drain(socket) {
            const worker = socket.data;
            if (worker?.unsent) worker.write(worker.unsent);
          },
          end: (socket) => lost(socket, "closed"),
          close: (socket, error) =>
            lost(socket, (error as NodeJS.ErrnoException | undefined)?.code === "ECONNRESET" ? "reset" : "closed"),
          error(socket, error) {
            const code = (error as NodeJS.ErrnoException).code;
            if (isTlsError(error) && socket.data && !socket.data.closedByUs) {
              // A server that wants a client certificate says so only after the handshake.
              options.onConnectFailure?.({
                kind: "tls",
                failure: describeTlsError(error, options.tls?.serverName ?? options.host),
              });
              return lost(socket, "tls");
            }
            lost(socket, code === "ECONNRESET" || code === "EPIPE" ? "reset" : "socket-error");
          },
        },
      });
      if (options.sendProxyHeader) {
        const { socket } = worker;
        const local = { address: socket.localAddress, port: socket.localPort };
        const remote = { address: socket.remoteAddress, port: socket.remotePort };
        worker.write(Buffer.from(formatProxyV1(local, remote)));
      }
      // Opened after a Ctrl+C, which no longer waits for it: not part of the run.
      if (options.signal?.aborted) {
        worker.closedByUs = true;
        worker.socket.end();
        return;
      }
      // Lost already (a TLS server refusing us right after the handshake), and counted then.
      if (!worker.closedByUs) {
        run.workers.add(worker);
        worker.counted = true;
        run.connected++;
      }
    } catch (error) {
      const failure: ConnectFailure =
        error instanceof ConnectError ? error.failure : { kind: "error", error: error as Error };
      options.onConnectFailure?.(failure);
      run.error(CONNECT_ERROR_KINDS[failure.kind]);
    }
  };
  /** A notice ends the connection; the mTLS ones are TLS failures, said as the client says them. */
  const noticed = (worker: Worker, text: string) => {
    const tls =
      text === notices.clientCertificateRequired
        ? ({ kind: "client-certificate-required" } as const)
        : text === notices.clientCertificateRejected
          ? ({ kind: "client-certificate-rejected" } as const)
          : undefined;
    if (tls) options.onConnectFailure?.({ kind: "tls", failure: tls });
    else options.onNotice?.(text);
    lost(worker.socket, tls ? "tls" : "notice");
  };
  const lost = (socket: BenchSocket, kind: ErrorKind) => {
    const worker = socket.data;
    if (!worker) return;
    // Gone after the run: not an error, and nothing to wait for.
    if (worker.closedByUs) return run.closeStopped(worker);
    run.lose(worker, kind);
  };
  const connector = async () => {
    // Interrupted while opening: no more (10,000 of them take a while).
    while (next < options.connections && !options.signal?.aborted) {
      next++;
      await openOne();
    }
  };
  const connectors = Array.from({ length: Math.min(CONNECT_CONCURRENCY, options.connections) }, connector);
  // Interrupted: the attempts under way (up to --timeout each, against a server that does not
  // accept) are not waited for; whatever they come to is not part of the result.
  const { promise: aborted, resolve } = Promise.withResolvers<void>();
  if (options.signal?.aborted) resolve();
  options.signal?.addEventListener("abort", () => resolve(), { once: true });
  await Promise.race([Promise.all(connectors), aborted]);
}
