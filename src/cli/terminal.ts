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
 * Whether `other` is the very terminal `terminal` is (stdout and stderr of `client < big.txt`):
 * then what goes to either lands on one screen, in the order the writes reach it. The same
 * character device as a terminal is that terminal: its device number (rdev), and the filesystem
 * holding its node (dev), which tells apart pty instances (containers) that number theirs alike.
 */
export async function isSameTerminal(terminal: Stream, other: Stream): Promise<boolean> {
  try {
    const [first, second] = await Promise.all([Bun.file(FDS[terminal]).stat(), Bun.file(FDS[other]).stat()]);
    return second.isCharacterDevice() && first.rdev === second.rdev && first.dev === second.dev;
  } catch {
    return false; // Not known to be one: each keeps its own writer.
  }
}
