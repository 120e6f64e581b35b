// Reading a PEM file (a certificate, a key, a CA), for the client's and the server's TLS
// settings alike: the text, or why it cannot be read, in words for the operator.
//
// node:fs is required where a file is read, not imported at the top: a bundler hoists a static
// import of a built-in to the start of the binary, and loading node:fs costs every start of the
// client (TLS or not) ~2 ms. The reading stays synchronous: the server re-reads on SIGHUP in one go.

export class PemFileError extends Error {
  constructor(
    /** Why, in a few words: `no such file`, `permission denied`, `it is a folder`. */
    readonly reason: string,
    readonly code: string | undefined,
  ) {
    super(reason);
    this.name = "PemFileError";
  }
}

export function readPemFile(path: string): string {
  try {
    const { readFileSync } = require("node:fs") as typeof import("node:fs");
    return readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === "ENOENT"
        ? "no such file"
        : code === "EACCES"
          ? "permission denied"
          : code === "EISDIR"
            ? "it is a folder"
            : (code ?? (error as Error).message);
    throw new PemFileError(reason, code);
  }
}
