// Whole lines to stdout or stderr without process.stdout/process.stderr, for the short-lived paths
// (--help, --version, usage errors, the client's pipeline status): creating those Node streams
// costs a compiled binary about 8 ms of start-up, more than everything else `client -m hi` does.
// Bun's console writes synchronously (everything is out before process.exit, also into a slow
// pipe) and prints a single string argument as is. Synchronous means a full pipe blocks the
// caller, as it would a C program: fine for the client, not for the server's event loop, which
// keeps process.stderr.

/** Writes text that ends with a line break (one is added if it does not). */
export function writeStdout(text: string): void {
  console.log(withoutFinalLineBreak(text));
}

/** Writes text that ends with a line break (one is added if it does not). */
export function writeStderr(text: string): void {
  console.error(withoutFinalLineBreak(text));
}

function withoutFinalLineBreak(text: string): string {
  return text.endsWith("\n") ? text.slice(0, -1) : text;
}
