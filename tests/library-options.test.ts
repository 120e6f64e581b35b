// startServer's options from a library caller, who has no flag parser in front of it: what the
// CLI refuses as a usage error is refused here too, before anything opens, and the server's
// public methods hold up when called in an order the program never uses.
import { describe, expect, test } from "bun:test";
import { freePort } from "../harness/ports.ts";
import { SERVER_DEFAULTS, type ServerOptions, startServer } from "../src/index.ts";
import { makeCertificates } from "./helpers/certs.ts";

/** Whether something accepts connections on the port (a listener left open by a failed start). */
async function accepts(port: number): Promise<boolean> {
  try {
    const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
    socket.end();
    return true;
  } catch {
    return false;
  }
}

describe("refused before anything opens", () => {
  test.each<[string, ServerOptions, RegExp]>([
    // Out of a timer's range, a timeout fired at once (every client dropped by stop()), with a
    // TimeoutOverflowWarning on stderr.
    [
      "drainTimeoutMs: Infinity",
      { drainTimeoutMs: Number.POSITIVE_INFINITY },
      /^drainTimeoutMs must be a number of milliseconds, 0 or more, at most 2147483647 \(got Infinity\)/,
    ],
    ["drainTimeoutMs: 3e9", { drainTimeoutMs: 3e9 }, /^drainTimeoutMs must be/],
    ["closeTimeoutMs: NaN", { closeTimeoutMs: Number.NaN }, /^closeTimeoutMs must be/],
    ["closeTimeoutMs: -1", { closeTimeoutMs: -1 }, /^closeTimeoutMs must be/],
    // 0 failed every handshake at once.
    [
      "tlsHandshakeTimeoutMs: 0",
      { tlsHandshakeTimeoutMs: 0 },
      /^tlsHandshakeTimeoutMs must be a number of milliseconds, more than 0/,
    ],
    ["proxyHeaderTimeoutMs: -5", { proxyHeaderTimeoutMs: -5 }, /^proxyHeaderTimeoutMs must be/],
    // Setuid, setgid and sticky bits on the socket file.
    ["unixMode: 0o4777", { unixMode: 0o4777 }, /^unixMode must be a whole number from 0 to 511/],
    ["port: 70000", { port: 70_000 }, /^port must be a whole number from 0 to 65535 \(got 70000\)/],
    [
      "a listen address's port: 1.5",
      { listen: [{ transport: "tcp", host: "127.0.0.1", port: 1.5 }] },
      /^listen port must be a whole number/,
    ],
  ])("%s: a RangeError that names it", (_name, options, message) => {
    expect(() => startServer(options)).toThrow(RangeError);
    expect(() => startServer(options)).toThrow(message);
  });

  test.each<[string, ServerOptions, RegExp]>([
    // It served raw framing: "a\nb\n" was one message.
    ["framing: LINE", { framing: "LINE" as "line" }, /^framing must be "line" or "raw" \(got LINE\)/],
    // It served plain text on the port, with the operator believing it was TLS.
    [
      "tls with no tls:// listener",
      { port: 0, tls: { cert: "/nonexistent.crt", key: "/nonexistent.key" } },
      /^tls is for tls:\/\/ listeners, and listen has none/,
    ],
    // It failed at listen with Bun's words: ListenError 'Expected either "hostname" or "unix"'.
    ["an empty host", { host: "", port: 0 }, /^host is empty: give an address or a name/],
    ["an empty host in listen", { listen: [{ transport: "tcp", host: "", port: 0 }] }, /^host is empty/],
    ["proxyFrom without proxyProtocol", { port: 0, proxyFrom: ["10.0.0.0/8"] }, /^proxyFrom is for proxyProtocol/],
    // Fail closed, but silently: every client refused, with nothing to say why.
    ["proxyProtocol with an empty proxyFrom", { port: 0, proxyProtocol: true, proxyFrom: [] }, /^proxyFrom is empty/],
    [
      "proxyProtocol on a Unix socket",
      { proxyProtocol: true, listen: ["unix:@socket-lab-library-options"] },
      /^proxyProtocol works on plain TCP listeners only/,
    ],
  ])("%s: a TypeError that says why", (_name, options, message) => {
    expect(() => startServer(options)).toThrow(TypeError);
    expect(() => startServer(options)).toThrow(message);
  });

  test("a listen entry of an unknown transport: a TypeError, and the listeners before it were never opened", async () => {
    // The first listener was opened, then a TypeError from deep inside, and it stayed open.
    const port = freePort();
    const listen = [`127.0.0.1:${port}`, { transport: "udp", host: "127.0.0.1", port: 0 }] as ServerOptions["listen"];
    expect(() => startServer({ listen })).toThrow(/^listen: transport must be "tcp", "tls" or "unix" \(got udp\)/);
    expect(await accepts(port)).toBe(false);
  });
});

describe("what the checks must let through", () => {
  test.each<[string, ServerOptions]>([
    // SERVER_DEFAULTS carries proxyFrom (loopback) with proxyProtocol off: it is the default, not a request.
    ["SERVER_DEFAULTS spread in", { ...SERVER_DEFAULTS, port: 0 }],
    ["a copy of the default proxyFrom", { ...SERVER_DEFAULTS, port: 0, proxyFrom: [...SERVER_DEFAULTS.proxyFrom] }],
    ["an empty proxyFrom", { port: 0, proxyFrom: [] }],
    // Timers take fractions: a computed 1.1 * 1000 is 1100.0000000000002.
    [
      "fractional timeouts",
      { port: 0, drainTimeoutMs: 1.1 * 1000, closeTimeoutMs: 1500.5, tlsHandshakeTimeoutMs: 0.5 },
    ],
  ])("%s: the server starts", async (_name, options) => {
    const server = startServer(options);
    expect(server.port).toBeGreaterThan(0);
    await server.stop();
  });
});

describe("methods in an order the program never uses", () => {
  test("reloadTls() after kill() opens nothing: the port stays closed", async () => {
    using certs = makeCertificates();
    const server = startServer({ listen: ["tls://127.0.0.1:0"], tls: certs.server });
    const { port } = server;
    server.kill();
    expect(server.reloadTls()).toEqual({ status: "refused", reason: "the server is stopping" });
    expect(await accepts(port)).toBe(false);
    // And stop() after kill() has nothing left to wait for.
    await server.stop();
  });

  test("holdInputUntil() with a promise that rejects (handled by its caller): no unhandled rejection, and input resumes", async () => {
    // In a process of its own: an unhandled rejection ends the process with "error: ...".
    const script = `
      import { startServer } from ${JSON.stringify(`${import.meta.dir}/../src/index.ts`)};
      const server = startServer({ port: 0 });
      const failed = Promise.reject(new Error("the caller's own failure"));
      failed.catch(() => {});
      server.holdInputUntil(failed);
      await Bun.sleep(20);
      const reply = Promise.withResolvers();
      const socket = await Bun.connect({ hostname: "127.0.0.1", port: server.port, socket: { data: (_s, chunk) => reply.resolve(String(chunk)) } });
      socket.write("after the hold\\n");
      console.log(await reply.promise);
      socket.end();
      await server.stop();
    `;
    const proc = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    expect(stderr).toBe("");
    expect(stdout).toBe("Message 'after the hold' received successfully\n\n");
    expect(await proc.exited).toBe(0);
  });
});
