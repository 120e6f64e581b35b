// A Unix socket listener: a socket file with the mode asked for, or a Linux abstract name
// (`@name`, no file). A file left by a server that crashed is replaced; one where a server still
// listens is refused; ours is removed when the listener closes.
import { chmodSync, lstatSync, readFileSync, type Stats, unlinkSync } from "node:fs";
import type { SocketHandler } from "bun";
import type { SocketData } from "../socket-handlers.ts";
import { ListenError, type Listener, listenError, type UnixAddress } from "./listener.ts";

export const DEFAULT_UNIX_MODE = 0o660;

export function listenUnix(address: UnixAddress, mode: number, socket: SocketHandler<SocketData>): Listener {
  const abstract = address.path.startsWith("@");
  if (!abstract) removeStaleSocket(address);
  let listener: ReturnType<typeof Bun.listen<SocketData>>;
  // The file is created with the process's umask, and clients can connect the moment it exists:
  // a umask that takes away at least what the mode does means it never allows more than the mode,
  // not even until the chmod below sets it exactly.
  const umask = abstract ? undefined : process.umask(0o777 & ~mode);
  try {
    // The kernel takes an abstract name as a path that starts with a NUL byte.
    listener = Bun.listen<SocketData>({
      unix: abstract ? `\0${address.path.slice(1)}` : address.path,
      allowHalfOpen: true,
      socket,
    });
  } catch (error) {
    throw listenError(error, address);
  } finally {
    if (umask !== undefined) process.umask(umask);
  }
  let file: Stats | undefined;
  if (!abstract) {
    try {
      chmodSync(address.path, mode);
      file = lstatSync(address.path);
    } catch (error) {
      listener.stop(true);
      throw new ListenError(
        `Cannot set the mode of ${address.path}: ${(error as Error).message}`,
        (error as NodeJS.ErrnoException).code,
      );
    }
  }
  return {
    address,
    stopAccepting: () => listener.stop(false),
    close: () => {
      listener.stop(true);
      if (file) removeIfOurs(address.path, file);
    },
  };
}

/**
 * A socket file at the path with no server listening on it is left from a crash: remove it. A
 * server listening there keeps it (the kernel's table of Unix sockets says which). Anything else
 * at the path, a regular file say, is not ours to delete.
 */
function removeStaleSocket(address: UnixAddress): void {
  let stats: Stats;
  try {
    stats = lstatSync(address.path);
  } catch {
    return; // Nothing there.
  }
  if (!stats.isSocket()) {
    throw new ListenError(`Cannot listen on unix:${address.path}: the path exists and is not a socket`, "EEXIST");
  }
  if (someoneListensOn(address.path)) {
    throw new ListenError(`Address unix:${address.path} is already in use`, "EADDRINUSE");
  }
  unlinkSync(address.path);
}

/**
 * Whether a listening Unix socket is bound to `path`, from Linux's /proc/net/unix (a line per
 * socket: flags 00010000 is a listening one, the last field its path). Read synchronously, so
 * startServer can stay synchronous. Where the table cannot be read, the answer is yes: refusing
 * to start is better than deleting another server's socket.
 */
function someoneListensOn(path: string): boolean {
  let table: string;
  try {
    table = readFileSync("/proc/net/unix", "utf8");
  } catch {
    return true;
  }
  const absolute = path.startsWith("/") ? path : `${process.cwd()}/${path}`;
  return table.split("\n").some((line) => {
    // Num: RefCount Protocol Flags Type St Inode Path (the path may contain spaces).
    const match = /^\s*\S+\s+\S+\s+\S+\s+(\S+)\s+\S+\s+\S+\s+\S+\s(.*)$/.exec(line);
    return match?.[1] === "00010000" && (match[2] === path || match[2] === absolute);
  });
}

/** Only the file this listener made: another server may have replaced it since. */
function removeIfOurs(path: string, ours: Stats): void {
  try {
    const now = lstatSync(path);
    if (now.ino === ours.ino && now.dev === ours.dev) unlinkSync(path);
  } catch {
    // Already gone.
  }
}
