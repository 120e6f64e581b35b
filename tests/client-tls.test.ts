// The client over TLS (spec, "Network"): against real TLS servers (socat terminating TLS in front
// of our plaintext server, and openssl s_server), with certificates made by openssl. Every way
// verification or the handshake can fail exits 6 with one plain [TLS] line; --tls-insecure says so.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { TCPSocketListener } from "bun";
import { makeCertificates, type TestCertificates } from "./helpers/certs.ts";
import {
  CHILD_ENV,
  runClient,
  SOURCE_CLIENT,
  serverForThisFile,
  startServerProcess,
  TextCollector,
} from "./helpers/processes.ts";
import { type SocatProcess, tlsTerminator } from "./helpers/socat.ts";
import { KEYS, TerminalSession } from "./helpers/terminal.ts";

const TLS_FAILURE = 6;
const PROMPT = "Enter message (or 'quit' to exit): ";

const server = serverForThisFile();
let certs: TestCertificates;
/** TLS terminators in front of our server, one per certificate. */
let terminators: Record<"trusted" | "wrongName" | "expired" | "untrusted" | "selfSigned" | "mutual", SocatProcess>;
/** Every terminator started, for afterAll, even if beforeAll fails half way. */
const started: SocatProcess[] = [];

beforeAll(async () => {
  certs = makeCertificates();
  const plain = server().port;
  const terminator = async (pair: { cert: string; key: string }, clientCa?: string) => {
    const socat = await tlsTerminator(pair, plain, clientCa);
    started.push(socat);
    return socat;
  };
  terminators = {
    trusted: await terminator(certs.server),
    wrongName: await terminator(certs.wrongName),
    expired: await terminator(certs.expired),
    untrusted: await terminator(certs.untrusted),
    // The test CA's own certificate is self-signed.
    selfSigned: await terminator({ cert: certs.ca, key: certs.ca.replace(/\.crt$/, ".key") }),
    mutual: await terminator(certs.server, certs.ca),
  };
});

afterAll(async () => {
  for (const socat of started) await socat[Symbol.asyncDispose]();
  certs?.[Symbol.dispose]();
});

/** The client with --tls against a port, trusting our test CA unless `args` say otherwise. */
function tlsClient(port: number, args: string[], options: Parameters<typeof runClient>[1] = {}) {
  return runClient(["--tls", "--host", "localhost", "--port", String(port), ...args], options);
}

const trustingOurCa = () => ["--tls-ca", certs.ca];
const clientCertificate = () => ["--tls-cert", certs.client.cert, "--tls-key", certs.client.key];

describe("a trusted server", () => {
  test("verified against --tls-ca: every message acknowledged, exit 0", async () => {
    const result = await tlsClient(terminators.trusted.port, [...trustingOurCa(), "-m", "hello", "-m", "world"]);
    expect(result.stdout).toBe("Message 'hello' received successfully\nMessage 'world' received successfully\n");
    expect(result.stderr).toContain(
      `[CONNECTING] Connecting to server at tls://localhost:${terminators.trusted.port}...`,
    );
    expect(result.stderr).not.toContain("WARNING");
    expect(result.exitCode).toBe(0);
  });

  test("an IP address host is verified against the certificate's IP addresses", async () => {
    const port = terminators.trusted.port;
    const result = await runClient([
      "--tls",
      ...trustingOurCa(),
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "-m",
      "ip",
    ]);
    expect(result.stdout).toBe("Message 'ip' received successfully\n");
    expect(result.exitCode).toBe(0);
  });

  test("--tls-servername is the name checked, not --host", async () => {
    const result = await runClient([
      "--tls",
      ...trustingOurCa(),
      "--host",
      "127.0.0.1",
      "--port",
      String(terminators.trusted.port),
      "--tls-servername",
      "wrong.example",
      "-m",
      "x",
    ]);
    expect(result.stderr).toContain(
      "[TLS] The server's certificate is for localhost, 127.0.0.1, ::1, not wrong.example\n",
    );
    expect(result.exitCode).toBe(TLS_FAILURE);
  });

  test("a long pipeline over TLS: every ack, in order", async () => {
    const lines = Array.from({ length: 20_000 }, (_, i) => `line ${i}`);
    const result = await tlsClient(terminators.trusted.port, [...trustingOurCa(), "--quiet"], {
      stdin: `${lines.join("\n")}\n`,
    });
    expect(result.stdout).toBe(lines.map((line) => `Message '${line}' received successfully\n`).join(""));
    expect(result.exitCode).toBe(0);
  });
});

describe("verification failures exit 6 with a plain reason", () => {
  test.each([
    {
      name: "a certificate from a CA we do not trust (the system's CAs)",
      terminator: "trusted",
      trustOurCa: false,
      line: "[TLS] The server's certificate is not signed by a trusted CA: give the CA with --tls-ca",
    },
    {
      name: "a certificate signed by another CA than --tls-ca",
      terminator: "untrusted",
      trustOurCa: true,
      line: "[TLS] The server's certificate is not signed by a trusted CA: give the CA with --tls-ca",
    },
    {
      name: "a self-signed certificate",
      terminator: "selfSigned",
      trustOurCa: false,
      line: "[TLS] The server's certificate is self-signed and not trusted: give it with --tls-ca to trust it",
    },
    {
      name: "a certificate for another name",
      terminator: "wrongName",
      trustOurCa: true,
      line: "[TLS] The server's certificate is for wrong.example, not localhost",
    },
    {
      name: "an expired certificate",
      terminator: "expired",
      trustOurCa: true,
      line: "[TLS] The server's certificate has expired (on 2020-01-02 00:00 UTC)",
    },
  ] as const)("$name", async ({ terminator, trustOurCa, line }) => {
    const result = await tlsClient(terminators[terminator].port, [...(trustOurCa ? trustingOurCa() : []), "-m", "x"]);
    expect(result.stderr).toContain(`${line}\n`);
    expect(result.stderr).toEndWith("[DISCONNECTED] Disconnected from server\n");
    expect(result.stdout).toBe("");
    expect(result.exitCode).toBe(TLS_FAILURE);
  });

  test("NODE_TLS_REJECT_UNAUTHORIZED=0 does not switch verification off", async () => {
    const result = await tlsClient(terminators.untrusted.port, [...trustingOurCa(), "-m", "x"], {
      env: { ...CHILD_ENV, NODE_TLS_REJECT_UNAUTHORIZED: "0" },
    });
    expect(result.stderr).toContain("[TLS] The server's certificate is not signed by a trusted CA");
    expect(result.stdout).toBe("");
    expect(result.exitCode).toBe(TLS_FAILURE);
  });

  test.each(["untrusted", "selfSigned", "expired", "wrongName"] as const)(
    "--tls-insecure connects anyway (%s), and says once that nothing is verified",
    async (terminator) => {
      const result = await tlsClient(terminators[terminator].port, ["--tls-insecure", "-m", "risky"]);
      expect(result.stdout).toBe("Message 'risky' received successfully\n");
      const warnings = result.stderr.split("\n").filter((line) => line.startsWith("[WARNING]"));
      expect(warnings).toEqual([
        "[WARNING] The server's certificate is not verified (--tls-insecure): anyone on the way can read and change messages",
      ]);
      expect(result.exitCode).toBe(0);
    },
  );
});

describe("--reconnect does not retry what would fail the same way again", () => {
  test.each([
    { name: "an untrusted certificate", terminator: "untrusted", line: "[TLS] The server's certificate is not signed" },
    { name: "a server that requires a client certificate", terminator: "mutual", line: "[TLS] The server requires" },
  ] as const)("$name: exit 6 at once", async ({ terminator, line }) => {
    const result = await tlsClient(terminators[terminator].port, [...trustingOurCa(), "--reconnect", "-m", "x"]);
    expect(result.stderr).toContain(line);
    expect(result.stderr).not.toContain("[RECONNECTING]");
    expect(result.exitCode).toBe(TLS_FAILURE);
  });
});

describe("mutual TLS", () => {
  test("without a client certificate: exit 6, the server requires one (not a reset)", async () => {
    // A long input: the client is busy sending when the server's refusal arrives after the handshake.
    const input = "x\n".repeat(50_000);
    const result = await tlsClient(terminators.mutual.port, [...trustingOurCa()], { stdin: input });
    expect(result.stderr).toContain(
      "[TLS] The server requires a client certificate: give one with --tls-cert and --tls-key (50000 of 50000 messages unacknowledged)\n",
    );
    expect(result.stdout).toBe("");
    expect(result.exitCode).toBe(TLS_FAILURE);
  });

  test("with --tls-cert and --tls-key: every message acknowledged", async () => {
    const result = await tlsClient(terminators.mutual.port, [...trustingOurCa(), ...clientCertificate(), "-m", "me"]);
    expect(result.stdout).toBe("Message 'me' received successfully\n");
    expect(result.exitCode).toBe(0);
  });
});

/** openssl s_server on a free port, for handshakes that socat would not refuse this way. */
async function startOpensslServer(args: string[]) {
  const proc = Bun.spawn(
    ["openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", certs.server.cert, "-key", certs.server.key, ...args],
    { stdin: "pipe", stdout: "pipe", stderr: "pipe" },
  );
  const [, port] = await new TextCollector(proc.stdout).waitFor(/ACCEPT 127\.0\.0\.1:(\d+)/);
  return {
    port: Number(port),
    async [Symbol.asyncDispose]() {
      proc.kill();
      await proc.exited;
    },
  };
}

/** A plain TCP listener in this process that does `behaviour` with each connection. */
function plainListener(behaviour: "close" | "silent"): TCPSocketListener<undefined> {
  return Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket) {
        if (behaviour === "close") socket.end();
      },
      data() {},
    },
  });
}

describe("handshake failures exit 6", () => {
  test("a plaintext server, which answers the ClientHello with an ack", async () => {
    const raw = await startServerProcess(["--framing", "raw", "--quiet"]);
    try {
      const result = await tlsClient(raw.port, [...trustingOurCa(), "-m", "x"]);
      expect(result.stderr).toContain(
        "[TLS] The TLS handshake failed (wrong version number): is the server speaking TLS?\n",
      );
      expect(result.exitCode).toBe(TLS_FAILURE);
    } finally {
      await raw.stop();
    }
  });

  test("a server that closes the connection at once", async () => {
    using listener = plainListener("close");
    const result = await tlsClient(listener.port, ["-m", "x"]);
    expect(result.stderr).toContain(
      "[TLS] The server closed the connection during the TLS handshake: is it speaking TLS?\n",
    );
    expect(result.exitCode).toBe(TLS_FAILURE);
  });

  test("a server that never answers the handshake (a plaintext server waiting for a line): after --timeout", async () => {
    using listener = plainListener("silent");
    const result = await tlsClient(listener.port, ["--timeout", "0.5", "-m", "x"]);
    expect(result.stderr).toContain(
      "[TLS] The server did not complete the TLS handshake in time: is it speaking TLS?\n",
    );
    expect(result.exitCode).toBe(TLS_FAILURE);
  });

  test("a TLS 1.2 server that requires a client certificate refuses the handshake", async () => {
    await using openssl = await startOpensslServer(["-CAfile", certs.ca, "-Verify", "1", "-tls1_2"]);
    const result = await tlsClient(openssl.port, [...trustingOurCa(), "-m", "x"]);
    expect(result.stderr).toContain("[TLS] The server refused the TLS handshake (alert: handshake failure)\n");
    expect(result.exitCode).toBe(TLS_FAILURE);
  });

  test("a server that does not trust our client certificate", async () => {
    await using openssl = await startOpensslServer(["-CAfile", certs.ca, "-Verify", "1", "-verify_return_error"]);
    const result = await tlsClient(openssl.port, [
      ...trustingOurCa(),
      "--tls-cert",
      certs.untrusted.cert,
      "--tls-key",
      certs.untrusted.key,
      "-m",
      "x",
    ]);
    expect(result.stderr).toContain("[TLS] The server refused the TLS handshake (alert: unknown ca)");
    expect(result.exitCode).toBe(TLS_FAILURE);
  });
});

describe("the TLS flags", () => {
  test.each([
    { args: ["--tls-ca", "ca.crt"], problem: "--tls-ca needs --tls" },
    {
      args: ["--tls", "--tls-cert", "client.crt"],
      problem: "--tls-cert and --tls-key go together: give both or neither",
    },
    {
      args: ["--tls", "--tls-key", "client.key"],
      problem: "--tls-cert and --tls-key go together: give both or neither",
    },
    { args: ["--tls", "--tls-insecure", "--tls-ca", "ca.crt"], problem: "--tls-insecure verifies nothing" },
    { args: ["--tls", "--unix", "/tmp/x.sock"], problem: "--tls works over TCP only" },
    // Not TLS's, but the same check (parseClientNetworkFlags): `--host "$HOST"` with HOST unset.
    { args: ["--host", ""], problem: "--host needs a name or an address" },
    { args: ["--unix", ""], problem: "--unix needs a path (or @NAME)" },
  ])("usage error (exit 2): $problem", async ({ args, problem }) => {
    const result = await runClient([...args, "-m", "x"]);
    expect(result.stderr).toContain(`client: ${problem}`);
    expect(result.exitCode).toBe(2);
  });

  test("an unreadable file is one plain line and exit 1", async () => {
    const missing = `${certs.dir}/missing.crt`;
    const result = await tlsClient(terminators.trusted.port, ["--tls-ca", missing, "-m", "x"]);
    expect(result.stderr).toBe(`[ERROR] Cannot read --tls-ca ${missing}: no such file\n`);
    expect(result.exitCode).toBe(1);
  });

  test("a key that is not the certificate's is one plain line and exit 1", async () => {
    const result = await tlsClient(terminators.mutual.port, [
      ...trustingOurCa(),
      "--tls-cert",
      certs.client.cert,
      "--tls-key",
      certs.server.key,
      "-m",
      "x",
    ]);
    expect(result.stderr).toBe(
      `[ERROR] --tls-key ${certs.server.key} is not the key of --tls-cert ${certs.client.cert}\n`,
    );
    expect(result.exitCode).toBe(1);
  });

  test("a file that is not a certificate is one plain line and exit 1", async () => {
    const result = await tlsClient(terminators.trusted.port, ["--tls-ca", certs.server.key, "-m", "x"]);
    expect(result.stderr).toBe(`[ERROR] --tls-ca ${certs.server.key} is not a PEM certificate\n`);
    expect(result.exitCode).toBe(1);
  });
});

describe("interactive over TLS", () => {
  const session = (port: number, args: string[]) =>
    TerminalSession.start(SOURCE_CLIENT, ["--tls", "--host", "localhost", "--port", String(port), ...args]);

  test("a trusted server: the tutorial's session, exit 0", async () => {
    const terminal = session(terminators.trusted.port, trustingOurCa());
    try {
      await terminal.waitForPrompt(PROMPT, 1);
      terminal.type(`secure${KEYS.enter}`);
      await terminal.waitForLine("[RESPONSE] Message 'secure' received successfully");
      await terminal.waitForPrompt(PROMPT, 2);
      terminal.type(`quit${KEYS.enter}`);
      expect(await terminal.exited()).toBe(0);
      expect(terminal.screen).toContain(
        `[CONNECTING] Connecting to server at tls://localhost:${terminators.trusted.port}...`,
      );
    } finally {
      await terminal.close();
    }
  });

  test("an untrusted server: the [TLS] line and exit 6, no prompt", async () => {
    const terminal = session(terminators.untrusted.port, trustingOurCa());
    try {
      expect(await terminal.exited()).toBe(TLS_FAILURE);
      expect(terminal.screen).toContain(
        "[TLS] The server's certificate is not signed by a trusted CA: give the CA with --tls-ca",
      );
      expect(terminal.screen.join("\n")).not.toContain(PROMPT);
    } finally {
      await terminal.close();
    }
  });

  test("a server that requires a client certificate: exit 6 once it says so", async () => {
    const terminal = session(terminators.mutual.port, trustingOurCa());
    try {
      // The refusal can come before the first message or in answer to it.
      await terminal.waitForScreen(
        (lines) => lines.some((line) => line.startsWith("[TLS]")) || lines.at(-1) === PROMPT,
        "a prompt or the [TLS] line",
      );
      if (!terminal.screen.some((line) => line.startsWith("[TLS]"))) terminal.type(`hello${KEYS.enter}`);
      expect(await terminal.exited()).toBe(TLS_FAILURE);
      expect(terminal.screen.join("\n")).toContain(
        "[TLS] The server requires a client certificate: give one with --tls-cert and --tls-key",
      );
    } finally {
      await terminal.close();
    }
  });
});

describe("client bench over TLS", () => {
  test("--tls: a short run with no errors", async () => {
    const result = await runClient([
      "bench",
      "--tls",
      ...trustingOurCa(),
      "--host",
      "localhost",
      "--port",
      String(terminators.trusted.port),
      "-c",
      "4",
      "-n",
      "400",
      "--json",
      "--quiet",
    ]);
    expect(JSON.parse(result.stdout)).toMatchObject({ tls: true, connected: 4, messages: 400, errors: 0 });
    expect(result.exitCode).toBe(0);
  });

  test("--tls with a client certificate against mutual TLS; without one, one [TLS] line", async () => {
    const args = (extra: string[]) => [
      "bench",
      "--tls",
      ...trustingOurCa(),
      ...extra,
      "--host",
      "localhost",
      "--port",
      String(terminators.mutual.port),
      "-c",
      "3",
      "-n",
      "300",
      "--json",
      "--quiet",
    ];
    const withCertificate = await runClient(args(clientCertificate()));
    expect(JSON.parse(withCertificate.stdout)).toMatchObject({ messages: 300, errors: 0 });
    expect(withCertificate.exitCode).toBe(0);

    const without = await runClient(args([]));
    expect(JSON.parse(without.stdout)).toMatchObject({ messages: 0, errors: 3, errorKinds: { tls: 3 } });
    expect(without.stderr).toBe(
      "[TLS] The server requires a client certificate: give one with --tls-cert and --tls-key\n",
    );
    expect(without.exitCode).toBe(1);
  });
});
