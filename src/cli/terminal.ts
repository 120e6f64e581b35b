// Whether stdin or stdout is a terminal, without touching process.stdin or process.stdout when
// the answer is plainly no. The first use of either builds Node's stream machinery, which costs a
// compiled binary about 2 ms of a 10 ms one-shot `client -m hi` (and more when nothing else has
// loaded node:stream yet). Only a character device can be a terminal, and Bun answers that with
// one native fstat; pipes and files (the usual case in scripts) stop there. A character device
// (a terminal, or /dev/null) gets the exact answer from Node's isTTY, as before.

export async function isTerminal(stream: "stdin" | "stdout"): Promise<boolean> {
  const fd = stream === "stdin" ? 0 : 1;
  try {
    if (!(await Bun.file(fd).stat()).isCharacterDevice()) return false;
  } catch {
    // Closed or unreadable: fall through to Node's answer, which copes with that.
  }
  return (stream === "stdin" ? process.stdin : process.stdout).isTTY === true;
}
