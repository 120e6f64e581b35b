// The client's [TLS] line names the certificate's names, which the server's owner chose: they are
// escaped, so a CN with an escape sequence or a newline cannot drive the terminal or forge a line.
import { expect, test } from "bun:test";
import { tlsOutcome } from "../src/client/outcome.ts";

test("a name mismatch shows the certificate's names escaped", () => {
  const outcome = tlsOutcome({
    kind: "name-mismatch",
    names: ["evil\x1b[31mRED\n[CONNECTED] Connected to server"],
    serverName: "127.0.0.1",
  });
  expect(outcome.exitCode).toBe(6);
  expect(outcome.error).toBe(
    "[TLS] The server's certificate is for evil\\x1b[31mRED\\n[CONNECTED] Connected to server, not 127.0.0.1",
  );
  expect(outcome.error).not.toContain("\n");
});
