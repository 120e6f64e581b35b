// A worker: the same server as a single process, bound with reusePort beside its siblings. Its
// per-message lines go to its stdout, a pipe the supervisor relays in whole lines; every other
// event goes to the supervisor over IPC, which logs it as the one program the operator started.
import { ExitCode } from "../../cli/exit-codes.ts";
import { createLogger } from "../../output/logger.ts";
import { flushWithin } from "../../output/sink.ts";
import type { ServerEvents } from "../events.ts";
import { reportTlsReload, type ServerProgramOptions } from "../main.ts";
import { createMessageOutput } from "../program-output.ts";
import { createServerReporter } from "../reporter.ts";
import { ListenError, type RunningServer, type ServerOptions, startServer } from "../server.ts";
import { shareOf } from "./count.ts";
import {
  FORWARDED_EVENTS,
  type ForwardedEvent,
  type SupervisorMessage,
  toWire,
  type WorkerAssignment,
  type WorkerMessage,
} from "./protocol.ts";

export async function runWorker(
  program: ServerProgramOptions,
  serverOptions: ServerOptions,
  assignment: WorkerAssignment,
): Promise<number> {
  const logger = createLogger({ level: program.logLevel, format: program.json ? "json" : "text" });
  const messages = createMessageOutput(logger, program.quiet);
  let server: RunningServer | undefined;
  // Behind means the supervisor is not reading (its own stdout is slow): pause the clients. The
  // supervisor is the one that warns.
  const onMessagesBehind = () => messages && server?.holdInputUntil(messages.flush());
  const { message, messageLines } = createServerReporter({ logger, messages, json: program.json, onMessagesBehind });
  const { index, count, ports } = assignment;
  // The supervisor forwards SIGHUP as a reload-tls message; the signal itself must not end a worker.
  process.on("SIGHUP", () => {});
  // Listening for the supervisor from the start: a stop may come while the server is starting.
  const { promise: stopRequested, resolve: requestStop } = Promise.withResolvers<void>();
  process.on("SIGINT", requestStop);
  process.on("SIGTERM", requestStop);
  // The channel closes when the supervisor is gone, however it went (kill -9 included).
  process.on("disconnect", requestStop);
  process.on("message", (request: SupervisorMessage) => {
    if (request.type === "stop") requestStop();
    else if (request.type === "collect" && server)
      void send({ type: "snapshot", id: request.id, snapshot: server.snapshot() });
    else if (request.type === "reload-tls" && server) reportTlsReload(server.reloadTls(), logger);
  });
  const maxConnections = shareOf(program.limits.maxConnections, index, count);

  try {
    server = startServer({
      ...serverOptions,
      port: ports?.[0] ?? serverOptions.port,
      // Each --listen listener on the port the first worker got for it.
      listen: program.listen.map((address, i) =>
        address.transport === "unix" ? address : { ...address, port: ports?.[i] ?? address.port },
      ),
      limits: { ...program.limits, maxConnections },
      wholeServerMaxConnections: program.limits.maxConnections,
      reusePort: true,
      events: { message, messageLines, ...forwardedEvents() },
    });
  } catch (error) {
    if (!(error instanceof ListenError)) throw error;
    await Promise.race([send({ type: "failed", message: error.message, code: error.code }), stopRequested]);
    return ExitCode.failure;
  }
  // A send to a supervisor that is gone never calls back: a stop (its channel closing, a signal)
  // must still end this worker, not leave it serving with no parent.
  await Promise.race([
    send({ type: "ready", listeners: [...server.listeners], maxConnections: server.maxConnections }),
    stopRequested,
  ]);

  // Every way a worker is asked to stop is a drain, never an exit at once: a terminal's Ctrl+C
  // reaches the whole process group, and the supervisor's own request may follow it. Only the
  // supervisor decides to stop at once (it kills the workers).
  await stopRequested;
  await server.stop();
  if (messages) await flushWithin(messages, program.drainTimeoutMs);
  return ExitCode.ok;
}

/** Resolves once the message is handed to the channel (or the channel is gone). */
function send(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected) return resolve();
    process.send?.(message, undefined, undefined, () => resolve());
  });
}

function forwardedEvents(): Omit<ServerEvents, "message" | "messageLines"> {
  const events: Omit<ServerEvents, "message" | "messageLines"> = {};
  for (const name of Object.keys(FORWARDED_EVENTS) as ForwardedEvent[]) {
    const forward = (...args: unknown[]) => void send({ type: "event", name, args: args.map(toWire) });
    (events as Record<ForwardedEvent, typeof forward>)[name] = forward;
  }
  return events;
}
