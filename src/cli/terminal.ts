// Whether stdin, stdout or stderr is a terminal, without touching process.stdin and the others when
// the answer is plainly no. The first use of either builds Node's stream machinery, which costs a
// compiled binary about 2 ms of a 10 ms one-shot `client -m hi` (and more when nothing else has
// loaded node:stream yet). Only a character device can be a terminal, and Bun answers that with
// one native fstat; pipes and files (the usual case in scripts) stop there, and so does /dev/null,
// a character device known by its device number. Any other character device gets the exact
// answer from Node's isTTY, as before.

type Stream = "stdin" | "stdout" | "stderr";
const FDS: Record<Stream, number> = { stdin: 0, stdout: 1, stderr: 2 };

export async function isTerminal(stream: Stream): Promise<boolean> {
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
