// Whether stdin, stdout or stderr is a terminal, without touching process.stdin and the others: the
// first use of either builds Node's stream machinery, which costs a compiled binary about 2 ms of
// a one-shot `client -m hi` (and more when nothing else has loaded node:stream yet).
//
// The answer is isatty(3), through the native binding under Node's own `tty.isatty`
// (`process.binding("tty_wrap")`, which Bun provides): synchronous and nearly free. node:tty itself
// costs a start ~7 ms (it loads node:net), and Bun.file(fd).stat() starts Bun's thread pool
// (~1 ms). Where the binding is missing, an fstat answers no for pipes and files and for
// /dev/null (a character device known by its device number); any other character device gets
// Node's isTTY.

type Stream = "stdin" | "stdout" | "stderr";
const FDS: Record<Stream, number> = { stdin: 0, stdout: 1, stderr: 2 };

interface TtyBinding {
  isTTY(fd: number): boolean;
}

let ttyBinding: TtyBinding | null | undefined;

/** The answer that needs no wait (the native isatty), or undefined where there is none. */
export function terminalNow(stream: Stream): boolean | undefined {
  return nativeIsTTY(FDS[stream]);
}

function nativeIsTTY(fd: number): boolean | undefined {
  if (ttyBinding === undefined) {
    try {
      const binding = (process as unknown as { binding(name: string): Partial<TtyBinding> }).binding("tty_wrap");
      ttyBinding = typeof binding.isTTY === "function" ? (binding as TtyBinding) : null;
    } catch {
      ttyBinding = null;
    }
  }
  return ttyBinding?.isTTY(fd);
}

export async function isTerminal(stream: Stream): Promise<boolean> {
  const native = nativeIsTTY(FDS[stream]);
  if (native !== undefined) return native;
  try {
    const stats = await Bun.file(FDS[stream]).stat();
    if (!stats.isCharacterDevice()) return false;
    if (stats.rdev === (await Bun.file("/dev/null").stat()).rdev) return false;
  } catch {
    // Closed or unreadable (or no /dev/null, as on Windows): Node's answer copes with that.
  }
  return process[stream].isTTY === true;
}

/**
 * Whether the two streams lead to one place: the same terminal (stdout and stderr of
 * `client < big.txt`), or the same pipe or file (`2>&1`, `>log 2>>log`). Then what goes to either
 * lands in one sequence, in the order the writes reach it, so a write of one can land in the
 * middle of the other's line. The same character device is the same terminal: its device number
 * (rdev), and the filesystem holding its node (dev), which tells apart pty instances (containers)
 * that number theirs alike. Anything else is the same when it is the same node (dev and inode).
 */
export async function isSameDestination(first: Stream, second: Stream): Promise<boolean> {
  try {
    const [a, b] = await Promise.all([Bun.file(FDS[first]).stat(), Bun.file(FDS[second]).stat()]);
    if (a.isCharacterDevice() || b.isCharacterDevice())
      return a.isCharacterDevice() && b.isCharacterDevice() && a.rdev === b.rdev && a.dev === b.dev;
    return a.dev === b.dev && a.ino === b.ino;
  } catch {
    return false; // Not known to be one: each keeps its own writer.
  }
}
