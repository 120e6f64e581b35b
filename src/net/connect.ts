// Opening a TCP connection with a timeout of our own: Bun.connect has none, and it reports
// ETIMEDOUT and EHOSTUNREACH as ECONNREFUSED (Bun 1.4), so our timer is the only honest timeout
// signal. A connection that opens after we gave up is closed at once.
import type { Socket, SocketHandler } from "bun";

export type ConnectFailure =
  | { kind: "refused" }
  | { kind: "timeout" }
  | { kind: "reset" }
  | { kind: "error"; error: Error };

export class ConnectError extends Error {
  constructor(readonly failure: ConnectFailure) {
    super(failure.kind === "error" ? failure.error.message : `connection ${failure.kind}`);
    this.name = "ConnectError";
  }
}

export interface ConnectOptions<Data> {
  host: string;
  port: number;
  /** Give up after this long; 0 waits as long as the operating system does. */
  timeoutMs: number;
  /** Makes the socket's own data when it opens (Bun would otherwise share one object). */
  attach(socket: Socket<Data | undefined>): Data;
  /** The other handlers; they see `socket.data` undefined only before attach(). */
  handlers: Omit<SocketHandler<Data | undefined>, "open" | "connectError">;
}

/** Resolves with the attached data of the open socket; rejects with a ConnectError. */
export async function connectWithTimeout<Data>(options: ConnectOptions<Data>): Promise<Data> {
  let timer: Timer | undefined;
  let abandoned = false;
  const timedOut = new Promise<never>((_, reject) => {
    if (options.timeoutMs > 0)
      timer = setTimeout(() => reject(new ConnectError({ kind: "timeout" })), options.timeoutMs);
  });
  const connecting = Bun.connect<Data | undefined>({
    hostname: options.host,
    port: options.port,
    data: undefined,
    socket: {
      ...options.handlers,
      open(socket) {
        if (abandoned) return socket.terminate();
        socket.data = options.attach(socket);
      },
      // The rejected promise reports it; this handler only keeps Bun quiet.
      connectError() {},
    },
  });
  try {
    const socket = await Promise.race([connecting, timedOut]);
    return socket.data!;
  } catch (error) {
    abandoned = true;
    if (error instanceof ConnectError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ECONNREFUSED") throw new ConnectError({ kind: "refused" });
    // The server accepted and reset at once (before our open handler ran): not a refusal.
    if (code === "ECONNRESET") throw new ConnectError({ kind: "reset" });
    throw new ConnectError({ kind: "error", error: error as Error });
  } finally {
    clearTimeout(timer);
  }
}
