// Writing whole lines to stdout or stderr without process.stdout/process.stderr: creating those
// Node streams costs a compiled binary about 8 ms of start-up, more than everything else that
// `client -m hi` or `--version` does. Bun's console writes synchronously (all of it is out before
// process.exit, also into a slow pipe) and prints a single string argument as is.

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
