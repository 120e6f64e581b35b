// A Unix tool whose reader goes away (`client | head -1`) stops quietly, like SIGPIPE; a server
// whose stdout goes away keeps serving its clients.
import { expect, test } from "bun:test";
import {
  CHILD_ENV,
  CLIENT_TS,
  runClient,
  runProgram,
  SERVER_TS,
  serverForThisFile,
  TextCollector,
} from "./helpers/processes.ts";

const server = serverForThisFile(["--quiet"]);

test("client | head -1: one ack, no stack trace, exit 141", async () => {
  const script = `seq 1 200000 | "${process.execPath}" "${CLIENT_TS}" --port ${server().port} --quiet | head -1; echo "status=\${PIPESTATUS[1]}" >&2`;
  const result = await runProgram(["bash", "-c", script], [], { deadlineMs: 30_000 });
  expect(result.stdout).toBe("Message '1' received successfully\n");
  expect(result.stderr).toBe("status=141\n");
});

test("server | head -1: the server warns once and keeps acknowledging", async () => {
  const proc = Bun.spawn([process.execPath, SERVER_TS, "--port", "0"], {
    stdout: "pipe",
    stderr: "pipe",
    env: CHILD_ENV,
  });
  try {
    const stderr = new TextCollector(proc.stderr);
    const port = (await stderr.waitFor(/listening on [^:]+:(\d+)/))[1]!;
    const lines = `${Array.from({ length: 5000 }, (_, i) => `m${i}`).join("\n")}\n`;
    // Read one chunk of the server's stdout, then hang up on it, as `head -1` does.
    const first = await runClient(["--port", port, "--quiet", "-m", "first"]);
    expect(first.exitCode).toBe(0);
    const reader = proc.stdout.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain("] first");
    await reader.cancel();
    for (let round = 0; round < 2; round++) {
      const result = await runClient(["--port", port, "--quiet"], { stdin: lines });
      expect(result.exitCode).toBe(0);
      expect(result.stdout.split("\n").length - 1).toBe(5000);
    }
    proc.kill("SIGINT");
    expect(await proc.exited).toBe(0);
    await stderr.done;
    expect(stderr.text.match(/\[WARNING\] stdout was closed/g)?.length).toBe(1);
    expect(stderr.text).not.toContain("EPIPE");
  } finally {
    proc.kill("SIGKILL");
  }
});
