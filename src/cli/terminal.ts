// Whether stdin, stdout or stderr is a terminal, without touching process.stdin and the others when
// the answer is plainly no. The first use of either builds Node's stream machinery, which costs a
// compiled binary about 2 ms of a 10 ms one-shot `client -m hi` (and more when nothing else has
// loaded node:stream yet). Only a character device can be a terminal, and Bun answers that with
// one native fstat; pipes and files (the usual case in scripts) stop there, and so does /dev/null,
// a character device known by its device number. Any other character device gets the exact
// answer from Node's isTTY, as before.

export async function isTerminal(stream: "stdin" | "stdout" | "stderr"): Promise<boolean> {
  const fd = stream === "stdin" ? 0 : stream === "stdout" ? 1 : 2;
  try {
    const stats = await Bun.file(fd).stat();
    if (!stats.isCharacterDevice()) return false;
    if (stats.rdev === (await Bun.file("/dev/null").stat()).rdev) return false;
  } catch {
    // Closed or unreadable (or no /dev/null, as on Windows): Node's answer copes with that.
  }
  return process[stream].isTTY === true;
}
