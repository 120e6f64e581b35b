// The supervisor: the process the operator started with --workers N. It runs N workers that each
// bind every listener with reusePort (clients connect to them directly: the supervisor never
// touches client data), restarts one that dies, speaks for them all on stdout and stderr, and
// drains them all on SIGINT/SIGTERM.
import type { Subprocess } from "bun";
import { ExitCode } from "../../cli/exit-codes.ts";
import { createLogger, type Logger } from "../../output/logger.ts";
import { createLineSink, type LineSink } from "../../output/sink.ts";
import type { ServerEvents } from "../events.ts";
import { ListenError, type NetworkAddress } from "../listeners/listener.ts";
import { claimPort } from "../listeners/tcp.ts";
import type { ServerProgramOptions } from "../main.ts";
import type { WorkerSnapshot } from "../metrics/http.ts";
import { type ProgramMetrics, startProgramMetrics } from "../program-metrics.ts";
import {
  createMessageOutput,
  reportListenError,
  stdoutBehindWarning,
  warnConnectionsLowered,
  warnIfCertificateInvalid,
  warnIfOpenToAnyone,
} from "../program-output.ts";
import { createServerReporter, MESSAGES_BACKLOG_LIMIT } from "../reporter.ts";
import { type Stoppable, serveUntilStopped } from "../signals.ts";
import { RestartBackoff } from "./backoff.ts";
import { workerCommand } from "./command.ts";
import { checkConnectionShares } from "./count.ts";
import { type LineRelayTarget, relayLines } from "./line-relay.ts";
import { fromWire, type SupervisorMessage, WORKER_ENV, type WorkerAssignment, type WorkerMessage } from "./protocol.ts";

export interface Supervisor extends Stoppable {
  /**
   * Every live worker's counters, asked for over IPC, labelled by worker number (a restarted
   * worker starts again at 0 under its label); a worker that does not answer in time is left out.
   */
  collect(): Promise<WorkerSnapshot[]>;
}

/** Log lines (the supervisor's and the relayed ones of its workers) that may wait for a slow stderr. */
const LOG_BACKLOG_CHARS = 4 * 1024 * 1024;
/** How long collect() waits for a worker's answer. */
const COLLECT_TIMEOUT_MS = 1000;
/** Beyond a worker's own deadlines (drain, then its stdout), before it is killed. */
const STOP_GRACE_MS = 2000;
/** How long the exit of a worker a signal may have ended waits for the supervisor's own handler. */
const SIGNAL_SETTLE_MS = 100;

export async function runSupervisor(options: ServerProgramOptions): Promise<number> {
  checkConnectionShares(options.limits.maxConnections, options.workers);
  // One stderr for the supervisor's log and its workers' relayed lines, so they cannot tear each other.
  const stderr = createLineSink("stderr", { dropWhenBehind: { limit: LOG_BACKLOG_CHARS } });
  const logger = createLogger({
    level: options.logLevel,
    format: options.json ? "json" : "text",
    write: stderr.write,
    writeErrors: stderr.write,
  });
  const messages = createMessageOutput(logger, options.quiet);
  const supervisor = new WorkerPool(options, logger, stderr, messages);
  let metrics: ProgramMetrics | undefined;
  try {
    metrics = await startProgramMetrics(options, () => supervisor.collect());
  } catch (error) {
    if (!(error instanceof ListenError)) throw error;
    reportListenError(logger, error);
    await stderr.flush();
    return ExitCode.failure;
  }
  try {
    // The signals are ours before the first worker starts: starting N workers takes a while, and
    // a SIGTERM in it (a service manager stopping what it just started) must be a drain with exit
    // 0, not the default action's death by signal that leaves the workers to notice on their own.
    const served = serveUntilStopped({
      target: supervisor,
      // A renewed certificate, for every worker.
      reloadTls: () => supervisor.reloadTls(),
      metrics,
      messages,
      logger,
      options,
    });
    if (!(await supervisor.start())) return ExitCode.failure;
    // A stop during the start: its drain, not the announcement of a server now going away.
    if (!supervisor.stopRequested) metrics?.announce(logger);
    return await served;
  } finally {
    await metrics?.stop();
    await stderr.flush();
  }
}

/** One of the N places a worker runs in; its process changes with each restart. */
interface Slot {
  index: number;
  proc?: Subprocess;
  /** Connections its worker serves now (from its connected/disconnected events). */
  active: number;
  startedAt: number;
  backoff: RestartBackoff;
  restartTimer?: Timer;
  /**
   * The worker's output, relayed until its pipes close. Its stderr never waits; its stdout waits
   * for the supervisor's stdout, which may be stuck (a reader that stopped reading).
   */
  stdoutRelay: Promise<void>;
  stderrRelay: Promise<void>;
  /** Answers to collect(), by request id. */
  waiting: Map<number, (answer: WorkerSnapshot | undefined) => void>;
  /** Its worker was ended by the stop before it listened: stopped, not failed. */
  stoppedBeforeListening: boolean;
}

class WorkerPool implements Supervisor {
  private readonly slots: Slot[];
  private readonly events: ServerEvents;
  private ports: number[] | undefined;
  private startup: Promise<boolean> | undefined;
  private stopping: Promise<void> | undefined;
  /**
   * starting: a worker that cannot listen ends the program; serving: every worker listened once,
   * and from now on one that dies is restarted; failed: start-up gave up, nothing is restarted.
   */
  private state: "starting" | "serving" | "failed" = "starting";
  private nextRequestId = 1;
  private readonly stdoutTarget: LineRelayTarget | undefined;
  private readonly stderrTarget: LineRelayTarget;

  constructor(
    private readonly options: ServerProgramOptions,
    private readonly logger: Logger,
    stderr: LineSink,
    messages: LineSink | undefined,
  ) {
    this.events = createServerReporter({ logger, json: options.json });
    this.slots = Array.from({ length: options.workers }, (_, i) => ({
      index: i + 1,
      active: 0,
      startedAt: 0,
      backoff: new RestartBackoff(),
      stdoutRelay: Promise.resolve(),
      stderrRelay: Promise.resolve(),
      waiting: new Map(),
      stoppedBeforeListening: false,
    }));
    const warnBehind = stdoutBehindWarning(logger);
    this.stdoutTarget = messages && {
      emit: (lines) => messages.writeBytes(lines),
      // Not reading a worker's pipe while stdout is behind fills the pipe, which paces the worker,
      // which then stops reading from its clients: the same back-pressure as a single process.
      behind: () => {
        if (messages.backlog <= MESSAGES_BACKLOG_LIMIT) return undefined;
        warnBehind();
        return messages.flush();
      },
    };
    const decoder = new TextDecoder();
    this.stderrTarget = { emit: (lines) => stderr.write(decoder.decode(lines)), behind: () => undefined };
  }

  /**
   * Starts every worker: the first alone (with port 0 it picks the port the others then bind),
   * then the rest. Resolves true once all listen, or false when one could not (the reason is
   * logged, the others are gone).
   */
  start(): Promise<boolean> {
    this.startup ??= this.startAll();
    return this.startup;
  }

  private async startAll(): Promise<boolean> {
    // The workers bind with port sharing, which succeeds beside any other process that shares the
    // port too (a TLS server, another --workers server) and would split its clients with it: a
    // port held elsewhere is refused here, before a worker starts.
    try {
      for (const address of this.networkAddresses()) if (address.port !== 0) claimPort(address);
    } catch (error) {
      if (!(error instanceof ListenError)) throw error;
      reportListenError(this.logger, error);
      this.state = "failed";
      return false;
    }
    // A stop while starting ends the start: the workers not yet launched are not, none is
    // announced, and the stop drains the ones that did start. A worker the stop itself ended (a
    // Ctrl+C reaches the whole process group, before a new worker takes its signals) is no failure.
    const [first, ...rest] = this.slots;
    const ready = await this.launch(first!);
    if (!ready) return first!.stoppedBeforeListening;
    if (this.stopping) return true;
    this.ports = ready.listeners.map((listener) => (listener.transport === "unix" ? 0 : listener.port));
    const others = await Promise.all(rest.map((slot) => this.launch(slot)));
    const failed = rest.filter((slot, i) => others[i] === undefined && !slot.stoppedBeforeListening);
    if (this.stopping && failed.length === 0) return true;
    if (others.some((answer) => answer === undefined)) {
      // Nobody was told the server is up: nothing to drain, no shutdown to announce.
      this.state = "failed";
      this.kill();
      await Promise.all(this.slots.map((slot) => slot.proc?.exited));
      return false;
    }
    this.state = "serving";
    for (const listener of ready.listeners) this.events.listening?.(listener);
    const maxConnections = [ready, ...others].reduce((sum, answer) => sum + answer!.maxConnections, 0);
    if (maxConnections < this.options.limits.maxConnections) warnConnectionsLowered(this.logger, maxConnections);
    warnIfOpenToAnyone(this.logger, ready.listeners, this.options);
    warnIfCertificateInvalid(this.logger, this.options.tls);
    return true;
  }

  /** The TCP and TLS addresses the workers will listen on. */
  private networkAddresses(): NetworkAddress[] {
    const { listen, host, port } = this.options;
    if (listen.length === 0) return [{ transport: "tcp", host, port }];
    return listen.filter((address): address is NetworkAddress => address.transport !== "unix");
  }

  get stopRequested(): boolean {
    return this.stopping !== undefined;
  }

  /** A stop asked for while the workers start waits for the start; one that failed has nothing to drain. */
  stop(): Promise<void> {
    this.stopping ??= (this.startup ?? Promise.resolve(false)).then((started) =>
      started ? this.drainAll() : undefined,
    );
    return this.stopping;
  }

  kill(): void {
    for (const slot of this.slots) slot.proc?.kill("SIGKILL");
  }

  /** SIGHUP: every worker reads the TLS files again (and logs what came of it). */
  reloadTls(): void {
    for (const slot of this.slots) this.tell(slot, { type: "reload-tls" });
  }

  async collect(): Promise<WorkerSnapshot[]> {
    const answers = await Promise.all(this.slots.map((slot) => this.ask(slot)));
    return answers.filter((answer): answer is WorkerSnapshot => answer !== undefined);
  }

  private async drainAll(): Promise<void> {
    // Stopped before it was announced (a stop during the start): no goodbye for it either.
    const announced = this.state === "serving";
    if (announced) this.events.shuttingDown?.();
    for (const slot of this.slots) clearTimeout(slot.restartTimer);
    const stopWithinMs = 2 * this.options.drainTimeoutMs + STOP_GRACE_MS;
    const deadline = setTimeout(() => {
      // A worker that did not drain (hung, or stopped by SIGSTOP): its clients lose what it still
      // held, so the operator is told which one was killed.
      for (const slot of this.slots) {
        if (!slot.proc || slot.proc.exitCode !== null || slot.proc.signalCode !== null) continue;
        this.logger.warn(`[WORKER] ${slot.index} did not stop within ${stopWithinMs / 1000} s; killed`, {
          event: "worker-killed",
          worker: slot.index,
        });
      }
      this.kill();
    }, stopWithinMs);
    await Promise.all(
      this.slots.map(async (slot) => {
        if (!slot.proc) return;
        this.tell(slot, { type: "stop" });
        await slot.proc.exited;
        await slot.stderrRelay;
        // A stdout that takes nothing must not hold the exit: the drain timeout bounds the wait,
        // as it does for one process.
        await Promise.race([slot.stdoutRelay, Bun.sleep(this.options.drainTimeoutMs)]);
      }),
    );
    clearTimeout(deadline);
    if (announced) this.events.closed?.();
  }

  /** Starts the slot's worker; resolves with its `ready` message, or undefined if it failed to listen. */
  private launch(slot: Slot): Promise<Extract<WorkerMessage, { type: "ready" }> | undefined> {
    const { promise, resolve } = Promise.withResolvers<Extract<WorkerMessage, { type: "ready" }> | undefined>();
    const assignment: WorkerAssignment = { index: slot.index, count: this.slots.length, ports: this.ports };
    const { cmd, argv0 } = workerCommand();
    let failure: { message: string; code?: string } | undefined;
    let listened = false;
    const proc = Bun.spawn({
      cmd,
      argv0,
      env: { ...process.env, [WORKER_ENV]: JSON.stringify(assignment) },
      stdin: "ignore",
      stdout: this.stdoutTarget ? "pipe" : "ignore",
      stderr: "pipe",
      ipc: (message: WorkerMessage) => {
        if (message.type === "ready") {
          listened = true;
          resolve(message);
        } else if (message.type === "failed") failure = message;
        else if (message.type === "event") this.replay(slot, message.name, message.args.map(fromWire));
        else if (message.type === "snapshot") {
          slot.waiting.get(message.id)?.({ worker: String(slot.index), ...message.snapshot });
          slot.waiting.delete(message.id);
        }
      },
    });
    slot.proc = proc;
    slot.startedAt = performance.now();
    slot.active = 0;
    slot.stdoutRelay = this.stdoutTarget
      ? relayLines(proc.stdout as ReadableStream<Uint8Array>, this.stdoutTarget)
      : Promise.resolve();
    slot.stderrRelay = relayLines(proc.stderr as ReadableStream<Uint8Array>, this.stderrTarget);
    this.logger.debug(`[WORKER] ${slot.index} started (pid ${proc.pid})`, {
      event: "worker-started",
      worker: slot.index,
      pid: proc.pid,
    });
    void proc.exited.then(async () => {
      for (const answer of slot.waiting.values()) answer(undefined);
      slot.waiting.clear();
      slot.active = 0;
      // What it said last (why it failed, a crash's trace) is on its way out: let it out first.
      await slot.stderrRelay;
      // A signal to the whole process group (a terminal's Ctrl+C) ends a worker, or has it drain
      // and exit 0, as it reaches the supervisor, whose own handler may not have run yet. Once it
      // has, the stop is known: the worker was stopped, not failed, and is not restarted. One that
      // said why it failed (a port taken meanwhile), or died another way, failed whatever came.
      const endedAsStopped =
        failure === undefined && (proc.exitCode === 0 || proc.signalCode === "SIGINT" || proc.signalCode === "SIGTERM");
      if (endedAsStopped) await Bun.sleep(SIGNAL_SETTLE_MS);
      if (!listened && this.stopping && endedAsStopped) {
        slot.stoppedBeforeListening = true;
        return resolve(undefined);
      }
      if (!listened) {
        reportListenError(
          this.logger,
          failure ?? { message: `worker ${slot.index} exited before listening (${exitReason(proc)})` },
        );
        resolve(undefined);
        // At start-up that ends the program (start() says so); later it is one more restart.
        if (this.state === "starting") return;
      }
      if (!this.stopping && this.state !== "failed") this.restart(slot, proc);
    });
    return promise;
  }

  private restart(slot: Slot, dead: Subprocess): void {
    const delayMs = slot.backoff.next(performance.now() - slot.startedAt);
    this.logger.warn(`[WORKER] ${slot.index} exited (${exitReason(dead)}); restarting`, {
      event: "worker-exited",
      worker: slot.index,
      code: dead.exitCode,
      signal: dead.signalCode,
      restartInMs: delayMs,
    });
    slot.restartTimer = setTimeout(() => void this.launch(slot), delayMs);
  }

  /** A worker's event, shown as the whole server's: counts are the sum over workers. */
  private replay(slot: Slot, name: string, args: unknown[]): void {
    const events = this.events as Record<string, ((...args: unknown[]) => void) | undefined>;
    switch (name) {
      // Said once for the whole server, by start() and drainAll().
      case "listening":
      case "shuttingDown":
      case "closed":
        return;
      case "connected":
      case "disconnected":
        // The worker's own count becomes the server's; the rest (a client's mTLS subject) goes on.
        slot.active = args[1] as number;
        return events[name]?.(args[0], this.activeConnections, ...args.slice(2));
      default:
        events[name]?.(...args);
    }
  }

  private get activeConnections(): number {
    return this.slots.reduce((sum, slot) => sum + slot.active, 0);
  }

  private ask(slot: Slot): Promise<WorkerSnapshot | undefined> {
    if (!slot.proc || slot.proc.exitCode !== null || slot.proc.signalCode !== null) return Promise.resolve(undefined);
    const id = this.nextRequestId++;
    const { promise, resolve } = Promise.withResolvers<WorkerSnapshot | undefined>();
    const timer = setTimeout(() => {
      slot.waiting.delete(id);
      resolve(undefined);
    }, COLLECT_TIMEOUT_MS);
    slot.waiting.set(id, (answer) => {
      clearTimeout(timer);
      resolve(answer);
    });
    this.tell(slot, { type: "collect", id });
    return promise;
  }

  private tell(slot: Slot, message: SupervisorMessage): void {
    try {
      slot.proc?.send(message);
    } catch {
      // Exited a moment ago: its exit handler settles what waited for it.
    }
  }
}

/** `signal SIGKILL` or `code 1`, as the `[WORKER] ... exited` line says it. */
function exitReason(proc: Subprocess): string {
  return proc.signalCode ? `signal ${proc.signalCode}` : `code ${proc.exitCode}`;
}
