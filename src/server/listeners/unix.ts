// A Unix socket listener: a socket file with the mode asked for, or a Linux abstract name
// (`@name`, no file). A file left by a server that crashed is replaced; one where a server still
// listens is refused; ours is removed when the listener closes.
import { chmodSync, lstatSync, readFileSync, realpathSync, type Stats, unlinkSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
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
 * A socket file at the path with no socket bound to it is left from a crash: remove it. One that
 * may be in use is kept (the kernel's table of Unix sockets says, see mayBeInUse). Anything else
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
  if (mayBeInUse(address.path)) {
    throw new ListenError(`Address unix:${address.path} is already in use`, "EADDRINUSE");
  }
  try {
    unlinkSync(address.path);
  } catch (error) {
    // Gone already (another server starting beside us took it away): nothing left to remove.
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw listenError(error, address);
  }
}

/**
 * Whether a socket may still be bound to `path`, from Linux's /proc/net/unix (a line per socket,
 * the last field the path it was bound as). Read synchronously, so startServer can stay
 * synchronous. Any socket there counts, listening or not (a datagram receiver has no listen
 * flag). A path bound through a link counts by where it leads; one bound as a relative path, or
 * through /proc/self/fd (Bun's way with a path too long for the kernel), cannot be placed, so one
 * with our file's name counts too. Where the table cannot be read, the answer is yes: refusing to
 * start is better than deleting another server's socket. (A server in another network namespace
 * is not in our table: that one this cannot see.)
 */
function mayBeInUse(path: string): boolean {
  let table: string;
  try {
    table = readFileSync("/proc/net/unix", "utf8");
  } catch {
    return true;
  }
  const ours = realPath(path);
  const name = basename(path);
  return table.split("\n").some((line) => {
    // Num: RefCount Protocol Flags Type St Inode Path (the path may contain spaces).
    const bound = /^\s*\S+\s+\S+\s+\S+\s+\S+\s+\S+\s+\S+\s+\S+\s(.*)$/.exec(line)?.[1];
    if (bound === undefined || basename(bound) !== name) return false;
    if (!bound.startsWith("/") || bound.startsWith("/proc/")) return true;
    return bound === path || realPath(bound) === ours;
  });
}

/** The path with its folder's links resolved (the file itself may be gone), or undefined. */
function realPath(path: string): string | undefined {
  try {
    return join(realpathSync(dirname(resolve(path))), basename(path));
  } catch {
    return undefined;
  }
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
