// A raw TCP client for tests: it writes exactly the bytes a test gives it, collects what the
// server sends back, and tells how the server ended the connection. Built on Bun.connect and the
// project's own Outbox, so large writes are finished on drain instead of silently cut short.
import type { Socket, TCPSocketConnectOptions } from "bun";
import { Outbox } from "../../src/net/outbox.ts";
import { DEADLINE_MS, TextCollector, withDeadline } from "./processes.ts";

/** How the connection ended: the server's FIN, a reset, or a close without either. */
export type Ending = "end" | "reset" | "close";

export class RawClient {
  /** Everything the server sent, decoded as UTF-8. */
  readonly replies = new TextCollector();
  /** Resolves once the connection is gone, with how it went. */
  readonly ending: Promise<Ending>;
  private settle!: (how: Ending) => void;
  private readonly decoder = new TextDecoder();
  private outbox!: Outbox;
  /** Our side's port (kept: Bun forgets it once the socket is closed); the server names us by it. */
  readonly localPort: number;

  private constructor(private socket: Socket<RawClient>) {
    this.localPort = socket.localPort;
    this.ending = new Promise((resolve) => (this.settle = resolve));
  }

  /** `localAddress`: the source address to connect from (127.0.0.2 and the rest of 127/8 are this machine's). */
  static async connect(port: number, host = "127.0.0.1", localAddress?: string): Promise<RawClient> {
    let client!: RawClient;
    // Bun.connect binds its side to `localAddress`, though bun-types 1.4.4 does not declare it.
    const options: TCPSocketConnectOptions<RawClient> & { localAddress?: string } = {
      hostname: host,
      port,
      localAddress,
      socket: {
        open(socket) {
          client = new RawClient(socket);
          client.outbox = new Outbox(socket);
          socket.data = client;
        },
        data: (socket, chunk) => socket.data.replies.append(socket.data.decoder.decode(chunk, { stream: true })),
        drain: (socket) => socket.data.drained(),
        end: (socket) => socket.data.over("end"),
        error(socket, error) {
          const code = (error as NodeJS.ErrnoException).code;
          socket.data?.over(code === "ECONNRESET" || code === "EPIPE" ? "reset" : "close");
        },
        close(socket, error) {
          socket.data?.over((error as NodeJS.ErrnoException | undefined)?.code === "ECONNRESET" ? "reset" : "close");
        },
      },
    };
    await Bun.connect<RawClient>(options);
    return client;
  }

  write(data: string | Uint8Array): void {
    this.outbox.send(data);
  }

  /**
   * Writes `data` in pieces of `pieceBytes`, giving the event loop a turn between pieces, so
   * that a server in this process (or on loopback) reads each piece on its own.
   */
  async writeInPieces(data: string | Uint8Array, pieceBytes = 1): Promise<void> {
    const bytes = typeof data === "string" ? Buffer.from(data) : data;
    for (let start = 0; start < bytes.length; start += pieceBytes) {
      this.write(bytes.subarray(start, start + pieceBytes));
      await Bun.sleep(2);
    }
  }

  /** Waits until the server has sent `pattern` (a string or regular expression). */
  waitFor(pattern: string | RegExp, deadlineMs = DEADLINE_MS): Promise<RegExpMatchArray> {
    return this.replies.waitFor(pattern, deadlineMs);
  }

  /** Waits for the server to end the connection. */
  closedByServer(deadlineMs = DEADLINE_MS): Promise<Ending> {
    return withDeadline(this.ending, deadlineMs, "the server did not close the connection");
  }

  /** Stops reading: the server's replies pile up in the kernel, then in the server. */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /**
   * Sends FIN but keeps reading: "I am done sending", as `nc -N` does at the end of its input.
   * The FIN follows every byte written so far (it waits for the outbox to drain).
   */
  finishSending(): void {
    if (this.outbox.isEmpty) this.socket.shutdown();
    else this.finishWhenDrained = true;
  }
  private finishWhenDrained = false;

  private drained(): void {
    if (this.outbox.flush() && this.finishWhenDrained) {
      this.finishWhenDrained = false;
      this.socket.shutdown();
    }
  }

  /** Hangs up. */
  end(): void {
    this.socket.end();
  }

  /** Hangs up with a reset (RST), as a crashed client would. */
  terminate(): void {
    this.socket.terminate();
  }

  private over(how: Ending): void {
    this.replies.finish();
    this.settle(how);
  }
}

/** Connects `count` raw clients at once. */
export function connectClients(count: number, port: number, host?: string): Promise<RawClient[]> {
  return Promise.all(Array.from({ length: count }, () => RawClient.connect(port, host)));
}

/** Why nothing can listen on host:port right now, or undefined if something could. */
export function listenProblem(host: string, port: number): string | undefined {
  try {
    Bun.listen({ hostname: host, port, socket: { data() {} } }).stop(true);
    return undefined;
  } catch (error) {
    return `cannot listen on ${host}:${port}: ${(error as Error).message}`;
  }
}

/** A loopback port that nothing listens on (it was free a moment ago): a refused connection. */
export function freePort(): number {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
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
