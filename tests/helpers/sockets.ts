// Sockets for tests: the raw client (shared with the soak, so it lives in harness/), many at once,
// a fake server that misbehaves as told, a listener that never accepts, and port probes.
import type { Socket, TCPSocketListener } from "bun";
import { RawClient } from "../../harness/raw-client.ts";
import { TextCollector } from "../../harness/text-collector.ts";
import { ackLine } from "./spec.ts";

export { freePort } from "../../harness/ports.ts";
export { type Ending, RawClient } from "../../harness/raw-client.ts";

/** Connects `count` raw clients at once. */
export function connectClients(count: number, port: number, host?: string): Promise<RawClient[]> {
  return Promise.all(Array.from({ length: count }, () => RawClient.connect(port, host)));
}

/** A server that misbehaves as told: `open`/`data` get the raw socket. */
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

/**
 * A fake server whose n-th connection (from 0) is handled by `connections[n]` (the last one
 * handles any after it): it sees every complete line (raw: every read) that connection sent, and
 * answers as it likes. `received` keeps what each connection sent, for tests of what was resent.
 */
export function scriptedServer(
  connections: Array<(socket: Socket<undefined>, line: string, index: number) => void>,
  framing: "line" | "raw" = "line",
) {
  const received: string[][] = [];
  const fake = startFakeServer({
    open(socket) {
      const n = received.push([]) - 1;
      let held = "";
      (socket as Socket<unknown>).data = (chunk: Buffer) => {
        const pieces = framing === "raw" ? [chunk.toString()] : (held + chunk.toString()).split("\n");
        if (framing === "line") held = pieces.pop()!;
        for (const line of pieces) {
          received[n]!.push(line);
          (connections[n] ?? connections.at(-1)!)(socket, line, received[n]!.length - 1);
        }
      };
    },
    data: (socket, chunk) => ((socket as Socket<unknown>).data as (chunk: Buffer) => void)(chunk),
  });
  return { ...fake, received };
}

/** Answers a line with its ack, as our server would. */
export const acknowledge = (socket: Socket<undefined>, line: string) => void socket.write(ackLine(line));

/** Why nothing can listen on host:port right now, or undefined if something could. */
export function listenProblem(host: string, port: number): string | undefined {
  try {
    Bun.listen({ hostname: host, port, socket: { data() {} } }).stop(true);
    return undefined;
  } catch (error) {
    return `cannot listen on ${host}:${port}: ${(error as Error).message}`;
  }
}

/**
 * A listener whose accept queue is full: python3 listens with a backlog of 0, never accepts, and
 * fills the queue itself, so the kernel drops new SYNs and a connection attempt hangs (the case
 * of a server that is up but stuck, or a host that drops packets).
 */
export async function unacceptingListener(): Promise<{ port: number; close(): Promise<unknown> }> {
  const script = `
import socket, sys
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(0)
fillers = []
for _ in range(4):
    filler = socket.socket()
    filler.setblocking(False)
    try:
        filler.connect(listener.getsockname())
    except BlockingIOError:
        pass
    fillers.append(filler)
print(listener.getsockname()[1], flush=True)
sys.stdin.read()
`;
  const python = Bun.spawn(["python3", "-c", script], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  const close = () => {
    python.kill();
    return python.exited;
  };
  try {
    const [port] = await new TextCollector(python.stdout).waitFor(/^\d+(?=\n)/);
    return { port: Number(port), close };
  } catch (error) {
    await close();
    throw error;
  }
}
