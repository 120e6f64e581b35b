// The server's TLS listeners (tls://HOST:PORT) against Debian's `openssl s_client`: acks over TLS,
// mutual TLS (with the client's name logged, and no way for the environment to switch it off),
// a certificate renewed on SIGHUP while an older connection keeps working, bad files at start
// and on reload, and clients that never finish a handshake or do not speak TLS at all.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { makeCertificates, type TestCertificates } from "./helpers/certs.ts";
import { opensslClient, servedSerial, startListeningServer } from "./helpers/listeners.ts";
import { CHILD_ENV, runClient, runProgram, SOURCE_SERVER } from "./helpers/processes.ts";
import { RawClient } from "./helpers/sockets.ts";
import { ackLine } from "./helpers/spec.ts";

const count = (text: string, pattern: RegExp) => text.match(pattern)?.length ?? 0;

let certs: TestCertificates;
beforeAll(() => {
  certs = makeCertificates();
});
afterAll(() => certs[Symbol.dispose]());

const tlsArgs = (extra: string[] = []) => [
  "--listen",
  "tls://127.0.0.1:0",
  "--tls-cert",
  certs.server.cert,
  "--tls-key",
  certs.server.key,
  ...extra,
];

/** A TLS client from 127.0.0.2 whose message gets its ack. */
async function servedOverTlsFrom127002(port: number, message: string): Promise<RawClient> {
  const client = await RawClient.connect(port, "127.0.0.1", {
    tls: { ca: await Bun.file(certs.ca).text(), serverName: "localhost" },
    localAddress: "127.0.0.2",
  });
  client.write(`${message}\n`);
  await client.waitFor(ackLine(message));
  return client;
}

test("openssl s_client sends lines to a tls:// listener and gets their acks", async () => {
  await using server = await startListeningServer(tlsArgs(), 1);
  expect(server.addresses[0]).toMatch(/^tls:\/\/127\.0\.0\.1:\d+$/);
  await using client = opensslClient(server.portOf("tls://"), { ca: certs.ca });
  client.send("hello\nover TLS\n");
  await client.stdout.waitFor(ackLine("hello") + ackLine("over TLS"));
  await server.stdout.waitFor(/\[127\.0\.0\.1:\d+\] over TLS\n/);
  await server.stderr.waitFor(/\[NEW CONNECTION\] 127\.0\.0\.1:\d+ connected\.\n/);
  expect(await server.stop()).toBe(0);
});

test("--allow on a tls:// listener is checked as the socket opens: refused addresses hold no place through a handshake", async () => {
  await using server = await startListeningServer(tlsArgs(["--allow", "127.0.0.2/32", "--max-connections", "2"]), 1);
  const port = server.portOf("tls://");
  // Three clients from a refused address that never start a handshake: before, each held one of
  // the two places for the whole handshake deadline, and the allowed client was told the server is full.
  const idle = await Promise.all([1, 2, 3].map(() => RawClient.connect(port, "127.0.0.1")));
  await server.stderr.waitFor((text) => count(text, /\[DENIED\] 127\.0\.0\.1:\d+/g) === 3);
  const allowed = await servedOverTlsFrom127002(port, "let in");
  expect(server.stderr.text).not.toContain("server is full");
  for (const client of [...idle, allowed]) client.terminate();
  expect(await server.stop()).toBe(0);
});

test("--max-connections-per-address on a tls:// listener counts sockets still in their handshake: one address cannot fill the server", async () => {
  const limits = ["--max-connections", "4", "--max-connections-per-address", "2"];
  await using server = await startListeningServer(tlsArgs(limits), 1);
  const port = server.portOf("tls://");
  // Five sockets from one address that never start a handshake: before, all four places went to
  // them for the whole handshake deadline, and a client from elsewhere was told the server is full.
  const idle = await Promise.all([1, 2, 3, 4, 5].map(() => RawClient.connect(port, "127.0.0.1")));
  await server.stderr.waitFor(
    (text) =>
      count(
        text,
        /\[LIMIT\] 127\.0\.0\.1:\d+ has too many connections from 127\.0\.0\.1 \(limit 2 per address\)\n/g,
      ) === 3,
  );
  const other = await servedOverTlsFrom127002(port, "still room");
  expect(server.stderr.text).not.toContain("server is full");
  for (const client of [...idle, other]) client.terminate();
  expect(await server.stop()).toBe(0);
});

test("--proxy-protocol with a tls:// or unix: listener is a usage error saying why, not a server that skips the header", async () => {
  for (const args of [tlsArgs(), ["--listen", "unix:@socket-lab-proxy-test"]]) {
    const listen = args[1];
    const result = await runProgram(SOURCE_SERVER, [...args, "--proxy-protocol"]);
    expect({ listen, exitCode: result.exitCode }).toEqual({ listen, exitCode: 2 });
    expect(result.stderr).toContain("--proxy-protocol works on plain TCP listeners only");
  }
});

describe.each([
  ["", CHILD_ENV],
  // Bun lets this variable switch off a server's client certificate check: ours must hold.
  [
    " (NODE_TLS_REJECT_UNAUTHORIZED=0 in the server's environment)",
    { ...CHILD_ENV, NODE_TLS_REJECT_UNAUTHORIZED: "0" },
  ],
])("mutual TLS%s", (_, env) => {
  test.each([
    // The server checks the certificate after a TLS 1.3 handshake the client counts as done, so
    // TLS has no alert left to say why: the notice says it.
    ["no client certificate", () => ({}), "the client sent no certificate", "ERROR client certificate required"],
    [
      "a certificate from another CA",
      () => ({ cert: certs.untrusted.cert, key: certs.untrusted.key }),
      "the client certificate is not trusted",
      "ERROR client certificate not accepted",
    ],
  ])("%s: refused with one [TLS] line, never served", async (_case, identity, reason, notice) => {
    await using server = await startListeningServer(tlsArgs(["--tls-client-ca", certs.ca]), 1, { env });
    await using client = opensslClient(server.portOf("tls://"), { ca: certs.ca, ...identity() });
    client.send("let me in\n");
    await server.stderr.waitFor(`handshake failed: ${reason}`);
    await client.exited();
    expect(client.stdout.text).toContain(`${notice}\n`);
    expect(client.stdout.text).not.toContain("received successfully");
    expect(server.stdout.text).toBe("");
    expect(count(server.stderr.text, /\[TLS\] 127\.0\.0\.1:\d+ handshake failed/g)).toBe(1);
    expect(server.stderr.text).not.toContain("[NEW CONNECTION]");
    expect(await server.stop()).toBe(0);
  });

  test.each([
    [[], "[TLS] The server requires a client certificate: give one with --tls-cert and --tls-key"],
    [
      ["--tls-cert", "untrusted.crt", "--tls-key", "untrusted.key"],
      "[TLS] The server does not accept our client certificate (--tls-cert): not signed by a CA it trusts, or expired",
    ],
  ])("our client %p: exit 6 with the reason, as for any TLS failure", async (identity, line) => {
    await using server = await startListeningServer(tlsArgs(["--tls-client-ca", certs.ca]), 1, { env });
    const files = identity.map((arg) => (arg.startsWith("--") ? arg : join(certs.dir, arg)));
    const port = String(server.portOf("tls://"));
    const result = await runClient(["--tls", "--tls-ca", certs.ca, ...files, "--port", port, "-m", "x"]);
    expect(result.stderr).toContain(`${line} (1 of 1 message unacknowledged)\n`);
    expect(result.exitCode).toBe(6);
    expect(await server.stop()).toBe(0);
  });

  test("client bench without a certificate: TLS errors, said once as the client says them, nothing counted", async () => {
    await using server = await startListeningServer(tlsArgs(["--tls-client-ca", certs.ca]), 1, { env });
    const port = String(server.portOf("tls://"));
    const args = ["bench", "--tls", "--tls-ca", certs.ca, "--port", port, "-c", "2", "-n", "10", "--json", "--quiet"];
    const result = await runClient(args);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe(
      "[TLS] The server requires a client certificate: give one with --tls-cert and --tls-key\n",
    );
    expect(JSON.parse(result.stdout)).toMatchObject({ messages: 0, errors: 2, errorKinds: { tls: 2 } });
    expect(await server.stop()).toBe(0);
  });

  test.each([
    ["", []],
    [" (--workers 2: the supervisor logs it)", ["--workers", "2"]],
  ])("with a client certificate: served, and its CN is on the NEW CONNECTION line%s", async (_, workers) => {
    await using server = await startListeningServer(tlsArgs(["--tls-client-ca", certs.ca, ...workers]), 1, { env });
    await using client = opensslClient(server.portOf("tls://"), {
      ca: certs.ca,
      cert: certs.client.cert,
      key: certs.client.key,
    });
    client.send("it is me\n");
    await client.stdout.waitFor(ackLine("it is me"));
    await server.stderr.waitFor(/\[NEW CONNECTION\] 127\.0\.0\.1:\d+ connected \(test-client\)\.\n/);
    expect(await server.stop()).toBe(0);
  });
});

/** The server's certificate and key copied to files a test then replaces in place, as a renewal would. */
function liveCopy(name: string): { cert: string; key: string } {
  const live = { cert: join(certs.dir, `${name}.crt`), key: join(certs.dir, `${name}.key`) };
  copyFileSync(certs.server.cert, live.cert);
  copyFileSync(certs.server.key, live.key);
  return live;
}

test("SIGHUP: new clients get the renewed certificate, an older connection keeps its acks, a bad or expired pair is refused", async () => {
  const live = liveCopy("live");
  await using server = await startListeningServer(
    ["--listen", "tls://127.0.0.1:0", "--tls-cert", live.cert, "--tls-key", live.key],
    1,
  );
  const port = server.portOf("tls://");
  expect(await servedSerial(port, certs.ca)).toBe(certs.serialOf(certs.server.cert));
  await using before = opensslClient(port, { ca: certs.ca });
  before.send("before\n");
  await before.stdout.waitFor(ackLine("before"));

  const renewed = certs.renew("renewed");
  copyFileSync(renewed.cert, live.cert);
  copyFileSync(renewed.key, live.key);
  server.proc.kill("SIGHUP");
  await server.stderr.waitFor(`[TLS] Certificate reloaded (serial ${renewed.serial})`);
  expect(await servedSerial(port, certs.ca)).toBe(renewed.serial);
  before.send("after\n");
  await before.stdout.waitFor(ackLine("after"));

  // A certificate with someone else's key: refused, the renewed one stays.
  copyFileSync(certs.renew("next").cert, live.cert);
  copyFileSync(certs.client.key, live.key);
  server.proc.kill("SIGHUP");
  await server.stderr.waitFor(
    /\[WARNING\] TLS certificate not reloaded, the old one is still served: .*does not match/,
  );
  expect(await servedSerial(port, certs.ca)).toBe(renewed.serial);

  // An expired pair (an old file copied back): refused, the renewed one stays.
  copyFileSync(certs.expired.cert, live.cert);
  copyFileSync(certs.expired.key, live.key);
  server.proc.kill("SIGHUP");
  await server.stderr.waitFor(
    /\[WARNING\] TLS certificate not reloaded, the old one is still served: the TLS certificate \S+ expired on 2020-01-02T00:00:00\.000Z/,
  );
  expect(await servedSerial(port, certs.ca)).toBe(renewed.serial);
  await using later = opensslClient(port, { ca: certs.ca });
  later.send("later\n");
  before.send("still here\n");
  await later.stdout.waitFor(ackLine("later"));
  await before.stdout.waitFor(ackLine("still here"));
  expect(await server.stop()).toBe(0);
});

describe("bad TLS set-ups stop the start with one plain line", () => {
  test.each([
    ["a tls:// listener without --tls-cert/--tls-key", () => ["--listen", "tls://127.0.0.1:0"], 2, /needs --tls-cert/],
    [
      "--tls-cert without a tls:// listener",
      () => ["--port", "0", "--tls-cert", certs.server.cert, "--tls-key", certs.server.key],
      2,
      /--tls-cert needs a --listen tls/,
    ],
    [
      "a certificate and a key that do not match",
      () => ["--listen", "tls://127.0.0.1:0", "--tls-cert", certs.server.cert, "--tls-key", certs.client.key],
      1,
      /\[ERROR\] The TLS certificate .*server\.crt does not match the key .*client\.key\n$/,
    ],
    [
      "a certificate file that is not there",
      () => ["--listen", "tls://127.0.0.1:0", "--tls-cert", "/nonexistent.crt", "--tls-key", certs.server.key],
      1,
      /\[ERROR\] Cannot read the TLS certificate \/nonexistent\.crt: no such file\n$/,
    ],
  ])("%s", async (_case, args, exitCode, line) => {
    const result = await runProgram(SOURCE_SERVER, args());
    expect(result.exitCode).toBe(exitCode);
    expect(result.stderr).toMatch(line);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(result.stderr).not.toContain("[STARTING]");
  });
});

test("a plaintext client on the TLS port costs one connection and one line; the next TLS client is served", async () => {
  await using server = await startListeningServer(tlsArgs(), 1);
  const port = server.portOf("tls://");
  const plain = await RawClient.connect(port);
  plain.write("hello in the clear\n");
  expect(await plain.ending).not.toBe("error");
  await server.stderr.waitFor("handshake failed: the client does not speak TLS");
  await using client = opensslClient(port, { ca: certs.ca });
  client.send("secure\n");
  await client.stdout.waitFor(ackLine("secure"));
  expect(count(server.stderr.text, /\[TLS\]/g)).toBe(1);
  expect(plain.replies.text).not.toContain("received successfully");
  expect(server.stdout.text).not.toContain("in the clear");
  expect(await server.stop()).toBe(0);
});

test.each([
  ["", []],
  [" (--workers 2: said once, by the supervisor)", ["--workers", "2"]],
])("an expired certificate at start: served, with one warning that says so%s", async (_, workers) => {
  const args = ["--listen", "tls://127.0.0.1:0", "--tls-cert", certs.expired.cert, "--tls-key", certs.expired.key];
  await using server = await startListeningServer([...args, ...workers], 1);
  const warning = `[WARNING] The TLS certificate ${certs.expired.cert} expired on 2020-01-02T00:00:00.000Z: clients that check it will refuse it\n`;
  await server.stderr.waitFor(warning);
  expect(await server.stop()).toBe(0);
  expect(count(server.stderr.text, /expired on/g)).toBe(1);
});

test("a client that hangs up in the middle of its handshake is logged in plain words", async () => {
  await using server = await startListeningServer(tlsArgs(), 1);
  const client = await RawClient.connect(server.portOf("tls://"));
  // The start of a ClientHello record (handshake, TLS 1.0 record version, 512 bytes to come), then FIN.
  client.write(Uint8Array.of(0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03));
  client.end();
  await server.stderr.waitFor(/\[TLS\] 127\.0\.0\.1:\d+ handshake failed: the client hung up during the handshake\n/);
  expect(await server.stop()).toBe(0);
});

test("a client that never starts its handshake is closed at --tls-handshake-timeout", async () => {
  await using server = await startListeningServer(tlsArgs(["--tls-handshake-timeout", "0.3"]), 1);
  const silent = await RawClient.connect(server.portOf("tls://"));
  await silent.ending;
  await server.stderr.waitFor(/\[TLS\] 127\.0\.0\.1:\d+ handshake failed: no handshake within 0\.3 s\n/);
  expect(server.stderr.text).not.toContain("[NEW CONNECTION]");
  expect(await server.stop()).toBe(0);
});

test("--workers 2 on a TLS listener: both serve, SIGHUP reaches both, and every new client gets the renewed certificate", async () => {
  const live = liveCopy("workers");
  await using server = await startListeningServer(
    ["--workers", "2", "--listen", "tls://127.0.0.1:0", "--tls-cert", live.cert, "--tls-key", live.key],
    1,
  );
  const port = server.portOf("tls://");
  await using client = opensslClient(port, { ca: certs.ca });
  client.send("to a worker\n");
  await client.stdout.waitFor(ackLine("to a worker"));

  const renewed = certs.renew("workers-renewed");
  copyFileSync(renewed.cert, live.cert);
  copyFileSync(renewed.key, live.key);
  server.proc.kill("SIGHUP");
  await server.stderr.waitFor((text) => count(text, /\[TLS\] Certificate reloaded/g) === 2);
  // The kernel spreads connections over the two workers: a handful reaches both.
  for (let i = 0; i < 6; i++) expect(await servedSerial(port, certs.ca)).toBe(renewed.serial);
  client.send("still here\n");
  await client.stdout.waitFor(ackLine("still here"));
  await client[Symbol.asyncDispose]();
  expect(await server.stop()).toBe(0);
});
