// Acks echo what was sent, and a server can send anything: on a terminal the client shows control
// characters escaped (as the server's log does); into a pipe or a file it passes the bytes as they
// came, since there they are data.
import { expect, test } from "bun:test";
import { runClient, SOURCE_CLIENT, serverForThisFile } from "./helpers/processes.ts";
import { TerminalSession } from "./helpers/terminal.ts";

const HOSTILE = "before\x1b[2Jafter\x07";
const server = serverForThisFile(["--quiet"]);

test("into a pipe: the ack's bytes exactly as the server sent them", async () => {
  const result = await runClient(["--port", String(server().port), "--quiet", "-m", HOSTILE]);
  expect(result.exitCode).toBe(0);
  expect(result.stdout).toBe(`Message '${HOSTILE}' received successfully\n`);
});

test("onto a terminal: escape sequences in an ack are shown escaped, never played", async () => {
  const session = TerminalSession.start(SOURCE_CLIENT, ["--port", String(server().port), "--quiet", "-m", HOSTILE]);
  try {
    expect(await session.exited()).toBe(0);
    expect(session.output.text).toContain("Message 'before\\x1b[2Jafter\\x07' received successfully");
    expect(session.output.text).not.toContain("\x1b[2J");
    expect(session.output.text).not.toContain("\x07");
  } finally {
    session.proc.kill("SIGKILL");
  }
});
