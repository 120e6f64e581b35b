// A Unix socket listener: a socket file with the mode asked for, or a Linux abstract name
// (`@name`, no file). A file left by a server that crashed is replaced; one where a server still
// listens is refused; ours is removed when the listener closes.
import {
  chmodSync,
  linkSync,
  lstatSync,
  readFileSync,
  realpathSync,
  renameSync,
  type Stats,
  unlinkSync,
} from "node:fs";
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
  // Bun's first stop() unlinks the path it listened on, whatever is there by then.
  const stop = (closeConnections: boolean) =>
    file
      ? stopSparingOthers(address.path, file, () => listener.stop(closeConnections))
      : listener.stop(closeConnections);
  return {
    address,
    stopAccepting: () => stop(false),
    close: () => {
      stop(true);
      if (file) removeIfOurs(address.path, file);
    },
  };
}

/**
 * Stops the listener without taking another server's socket file with it. Bun's stop() unlinks
 * the listener's path as it is now: after `rm` of our file and a new server started on the same
 * path (a restart that does not wait for the old server's drain), stopping the old one would
 * delete the new one's file, leaving it listening where nobody can reach it. A file that is not
 * ours is moved aside for the moment of the stop and linked back (a link, unlike a rename, never
 * replaces a file that came meanwhile).
 */
function stopSparingOthers(path: string, ours: Stats, stop: () => void): void {
  if (isOurs(path, ours) !== false) return stop();
  const aside = `${path}.${process.pid}.aside`;
  try {
    renameSync(path, aside);
  } catch {
    return stop(); // Gone a moment ago, or the folder is not ours to change: nothing to spare.
  }
  try {
    stop();
  } finally {
    putBack(aside, path);
  }
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

/** Moves the set-aside file back to `path`, unless a file came there meanwhile. */
function putBack(aside: string, path: string): void {
  try {
    linkSync(aside, path);
    unlinkSync(aside);
  } catch (error) {
    // A file came to the path meanwhile: the moved one stays beside it rather than replace it.
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return;
    // A link we may not make (fs.protected_hardlinks and a file of another user's): a rename then,
    // which would replace a file that came in this instant, but not leave the server cut off.
    try {
      renameSync(aside, path);
    } catch {
      // Nothing more to try; the file is still there under its aside name.
    }
  }
}

/** Whether the file at `path` is the one this listener made; undefined when nothing is there. */
function isOurs(path: string, ours: Stats): boolean | undefined {
  let now: Stats;
  try {
    now = lstatSync(path);
  } catch {
    return undefined;
  }
  return now.ino === ours.ino && now.dev === ours.dev;
}

/** Only the file this listener made: another server may have replaced it since. */
function removeIfOurs(path: string, ours: Stats): void {
  try {
    if (isOurs(path, ours)) unlinkSync(path);
  } catch {
    // Gone a moment ago.
  }
}
