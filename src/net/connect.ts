// Opening a connection (TCP, TLS or a Unix socket) with a timeout of our own: Bun.connect has
// none, and it reports ETIMEDOUT and EHOSTUNREACH as ECONNREFUSED, so our timer is the honest
// timeout signal. A TLS connection counts as open only once its handshake has succeeded (Bun
// calls `open` before the handshake), so every verification failure is a ConnectError and the
// timeout covers a server that never answers the handshake. A connection that opens after we
// gave up is closed at once.
import type { Socket, SocketHandler } from "bun";
import { describeTlsError, isVerificationError, type TlsFailure } from "./tls-failure.ts";

/** What a client connects to, and how. */
export interface ConnectTarget {
  host: string;
  port: number;
  /** A Unix socket path (a leading "@" names a Linux abstract socket); host and port are then unused. */
  unix?: string;
  tls?: TlsClientOptions;
}

/** TLS settings with the PEM texts already read (see tls-files.ts). */
export interface TlsClientOptions {
  /** Trusted CAs instead of the system's. */
  ca?: string;
  /** A client certificate and its key, for servers that require one. */
  cert?: string;
  key?: string;
  /** The name the server's certificate must carry (an IP address is matched against IP SANs). */
  serverName: string;
  /** false: accept any certificate (--tls-insecure). */
  verify: boolean;
}

export type ConnectFailure =
  | { kind: "refused" }
  /** A Unix socket path where no socket exists. */
  | { kind: "no-socket"; path: string }
  /** A Unix socket this user may not connect to (its file's mode, or a folder on its path). */
  | { kind: "no-permission"; path: string }
  | { kind: "timeout" }
  | { kind: "reset" }
  | { kind: "unresolved"; host: string }
  | { kind: "tls"; failure: TlsFailure }
  | { kind: "error"; error: Error };

export class ConnectError extends Error {
  constructor(readonly failure: ConnectFailure) {
    super(failure.kind === "error" ? failure.error.message : `connection failed: ${failure.kind}`);
    this.name = "ConnectError";
  }
}

export interface ConnectOptions<Data> {
  target: ConnectTarget;
  /** Give up after this long; 0 waits as long as the operating system does. */
  timeoutMs: number;
  /** Makes the socket's own data when it is ready (Bun would otherwise share one object). */
  attach(socket: Socket<Data | undefined>): Data;
  /** The other handlers; they see `socket.data` undefined until attach() (TLS: until the handshake is done). */
  handlers: Omit<SocketHandler<Data | undefined>, "open" | "connectError" | "handshake">;
}

/** Bun names a Linux abstract socket with a leading NUL; we write it "@name", as ss and socat do. */
export function unixSocketAddress(path: string): string {
  return path.startsWith("@") ? `\0${path.slice(1)}` : path;
}

/** Resolves with the attached data of the ready socket; rejects with a ConnectError. */
export async function connectWithTimeout<Data>(options: ConnectOptions<Data>): Promise<Data> {
  const { target, handlers } = options;
  const tls = target.tls;
  let timer: Timer | undefined;
  let abandoned = false;
  /** The socket while its TLS handshake runs: closed by us if we give up meanwhile. */
  let handshaking: Socket<Data | undefined> | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    if (options.timeoutMs > 0)
      timer = setTimeout(
        () =>
          reject(
            new ConnectError(handshaking ? { kind: "tls", failure: { kind: "no-handshake" } } : { kind: "timeout" }),
          ),
        options.timeoutMs,
      );
  });
  // Settles when the connection can carry messages: at `open` in plaintext, after the handshake in TLS.
  const ready = Promise.withResolvers<Data>();
  const becomeReady = (socket: Socket<Data | undefined>) => {
    if (abandoned) return socket.terminate();
    socket.data = options.attach(socket);
    ready.resolve(socket.data);
  };
  /** The connection ended before the handshake finished: the server does not speak TLS, or hung up on us. */
  const endedDuringHandshake = (socket: Socket<Data | undefined>, error?: Error) => {
    if (socket.data !== undefined || !tls) return;
    ready.reject(new ConnectError({ kind: "tls", failure: describeTlsError(error, tls.serverName) }));
  };

  const tlsOptions = tls && {
    ca: tls.ca,
    cert: tls.cert,
    key: tls.key,
    serverName: tls.serverName,
    // Always explicit: an explicit setting is not overridden by NODE_TLS_REJECT_UNAUTHORIZED.
    rejectUnauthorized: tls.verify,
  };
  const socketHandlers: SocketHandler<Data | undefined> = {
    ...handlers,
    open(socket) {
      if (abandoned) return socket.terminate();
      if (tls) handshaking = socket;
      else becomeReady(socket);
    },
    handshake(socket, success, error) {
      handshaking = undefined;
      // Our own check as well as Bun's: with verification on, any verification error fails,
      // whatever the environment says. With it off (--tls-insecure) a certificate that does not
      // verify is let through: Bun reports some of those (self-signed, for another name) as an
      // unsuccessful handshake, though the connection is up and carries data.
      const failed = tls?.verify
        ? !success || error || !socket.authorized
        : !success && !isVerificationError(error ?? undefined);
      if (!failed) return becomeReady(socket);
      const failure = describeTlsError(error ?? undefined, tls!.serverName, socket);
      ready.reject(new ConnectError({ kind: "tls", failure }));
      socket.terminate();
    },
    end(socket) {
      endedDuringHandshake(socket);
      handlers.end?.(socket);
    },
    error(socket, error) {
      endedDuringHandshake(socket, error);
      handlers.error?.(socket, error);
    },
    close(socket, error) {
      endedDuringHandshake(socket, error);
      handlers.close?.(socket, error);
    },
    // The rejected promise reports it; this handler only keeps Bun quiet.
    connectError() {},
  };
  const connecting =
    target.unix === undefined
      ? Bun.connect({
          hostname: target.host,
          port: target.port,
          data: undefined,
          tls: tlsOptions,
          socket: socketHandlers,
        })
      : Bun.connect({ unix: unixSocketAddress(target.unix), data: undefined, tls: tlsOptions, socket: socketHandlers });
  try {
    return await Promise.race([connecting.then(() => ready.promise), timedOut]);
  } catch (error) {
    abandoned = true;
    handshaking?.terminate();
    throw error instanceof ConnectError ? error : new ConnectError(connectFailureOf(error, target));
  } finally {
    clearTimeout(timer);
  }
}

/** What an error from Bun.connect means (the one-shot, which connects on its own, asks too). */
export function connectFailureOf(error: unknown, target: ConnectTarget): ConnectFailure {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ECONNREFUSED") return { kind: "refused" };
  if (code === "ENOENT" && target.unix !== undefined) return { kind: "no-socket", path: target.unix };
  if ((code === "EACCES" || code === "EPERM") && target.unix !== undefined)
    return { kind: "no-permission", path: target.unix };
  // No such name, or no answer from the resolver: either way the name gave no address.
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return { kind: "unresolved", host: target.host };
  // The server accepted and reset at once (before our open handler ran): not a refusal.
  if (code === "ECONNRESET") return { kind: "reset" };
  return { kind: "error", error: error as Error };
}
