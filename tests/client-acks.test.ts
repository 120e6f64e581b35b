// How the client prints acks that arrive many to a read (its fast path takes a read's acks whole):
// a notice or a CRLF among them must still be seen line by line.
import { describe, expect, test } from "bun:test";
import { CHILD_ENV, DEADLINE_MS, runClient, SOURCE_CLIENT, withDeadline } from "./helpers/processes.ts";

/** A server that answers the first read with `reply` in one write, then closes. */
async function withScriptedServer(reply: string | Uint8Array, run: (port: number) => Promise<void>): Promise<void> {
  const listener = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(socket) {
        socket.write(reply);
        socket.end();
      },
    },
  });
  try {
    await run(listener.port);
  } finally {
    listener.stop(true);
  }
}

describe("acks many to a read", () => {
  test("acks then a notice in one read: the acks are printed, the notice ends the run (exit 5)", async () => {
    const reply = "Message 'a' received successfully\nMessage 'b' received successfully\nERROR idle timeout\n";
    await withScriptedServer(reply, async (port) => {
      const result = await runClient(["--port", String(port), "--quiet"], { stdin: "a\nb\nc\n" });
      expect(result.stdout).toBe("Message 'a' received successfully\nMessage 'b' received successfully\n");
      expect(result.stderr).toContain("[ERROR] idle timeout (1 of 3 messages unacknowledged)");
      expect(result.exitCode).toBe(5);
    });
  });

  test("acks with bytes that are not UTF-8 are printed with U+FFFD, as line by line", async () => {
    const ack = (text: string) => Buffer.from(`Message '${text}' received successfully\n`, "latin1");
    await withScriptedServer(Buffer.concat([ack("a\xff"), ack("b\xc3")]), async (port) => {
      // Read as bytes: decoding the output here would turn invalid bytes into U+FFFD as well.
      const proc = Bun.spawn([...SOURCE_CLIENT, "--port", String(port), "--quiet"], {
        stdin: new Blob(["a\nb\n"]),
        stdout: "pipe",
        stderr: "ignore",
        env: CHILD_ENV,
      });
      try {
        const [stdout, exitCode] = await withDeadline(
          Promise.all([new Response(proc.stdout).bytes(), proc.exited]),
          DEADLINE_MS,
          "client exit",
        );
        const expected = "Message 'a\ufffd' received successfully\nMessage 'b\ufffd' received successfully\n";
        expect(Buffer.from(stdout).toString("hex")).toBe(Buffer.from(expected).toString("hex"));
        expect(exitCode).toBe(0);
      } finally {
        proc.kill("SIGKILL");
      }
    });
  });

  test("CRLF acks are printed without the CR", async () => {
    const reply = "Message 'a' received successfully\r\nMessage 'b' received successfully\r\n";
    await withScriptedServer(reply, async (port) => {
      const result = await runClient(["--port", String(port), "--quiet"], { stdin: "a\nb\n" });
      expect(result.stdout).toBe("Message 'a' received successfully\nMessage 'b' received successfully\n");
      expect(result.exitCode).toBe(0);
    });
  });
});
