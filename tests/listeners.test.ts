// Several listeners in one server, through the library (startServer({ listen })) and the CLI's
// --json: every listener reported with its real address, all or none opened, TLS reloads that
// say what they did.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListenError, startServer } from "../src/index.ts";
import { makeCertificates, type TestCertificates } from "./helpers/certs.ts";
import { startListeningServer } from "./helpers/listeners.ts";
import { EventRecorder } from "./helpers/server-events.ts";
import { RawClient } from "./helpers/sockets.ts";
import { ackLine } from "./helpers/spec.ts";

let certs: TestCertificates;
let dir: string;
beforeAll(() => {
  certs = makeCertificates();
  dir = mkdtempSync(join(tmpdir(), "socket-lab-listeners-"));
});
afterAll(() => {
  certs[Symbol.dispose]();
  rmSync(dir, { recursive: true, force: true });
});

test("startServer({ listen }): every listener open, reported and served; host/port are the first TCP one", async () => {
  const recorder = new EventRecorder();
  const path = join(dir, "lib.sock");
  await using server = startServer({
    listen: [`unix:${path}`, "127.0.0.1:0", "tls://127.0.0.1:0"],
    tls: { cert: certs.server.cert, key: certs.server.key },
    events: recorder.events,
  });
  const [unix, tcp, tls] = server.listeners;
  expect(unix).toEqual({ transport: "unix", path });
  expect(tcp).toEqual({ transport: "tcp", host: "127.0.0.1", port: expect.any(Number) });
  expect(tls).toEqual({ transport: "tls", host: "127.0.0.1", port: expect.any(Number) });
  expect(recorder.of("listening").map((event) => event.address)).toEqual([...server.listeners]);
  expect([server.host, server.port]).toEqual(["127.0.0.1", (tcp as { port: number }).port]);
  expect(tcp).not.toEqual(tls);

  const clients = await Promise.all([
    RawClient.connect(0, undefined, { unix: path }),
    RawClient.connect(server.port),
    RawClient.connect((tls as { port: number }).port, "127.0.0.1", { tls: { ca: await Bun.file(certs.ca).text() } }),
  ]);
  for (const [i, client] of clients.entries()) client.write(`via ${i}\n`);
  await Promise.all(clients.map((client, i) => client.replies.waitFor(ackLine(`via ${i}`))));
  expect(server.stats.connectionsAccepted).toBe(3);
  for (const client of clients) client.end();
});

test("if one listener cannot open, the ones already open are closed and the ListenError says which", async () => {
  await using taken = startServer({ port: 0 });
  const path = join(dir, "rollback.sock");
  let error: unknown;
  try {
    startServer({ listen: [`unix:${path}`, `127.0.0.1:${taken.port}`] });
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(ListenError);
  expect((error as ListenError).message).toBe(`Address 127.0.0.1:${taken.port} is already in use`);
  expect(existsSync(path)).toBe(false);
  // The unix path is free again: a server can take it.
  await using again = startServer({ listen: [`unix:${path}`] });
  expect(again.listeners).toEqual([{ transport: "unix", path }]);
});

test("kill() removes the Unix socket file too", () => {
  const path = join(dir, "killed.sock");
  const server = startServer({ listen: [`unix:${path}`] });
  expect(existsSync(path)).toBe(true);
  server.kill();
  expect(existsSync(path)).toBe(false);
});

test("reloadTls() tells what it did: reloaded with the new serial, refused with a reason, or nothing to do", async () => {
  const live = { cert: join(dir, "lib.crt"), key: join(dir, "lib.key") };
  copyFileSync(certs.server.cert, live.cert);
  copyFileSync(certs.server.key, live.key);
  await using server = startServer({ listen: ["tls://127.0.0.1:0"], tls: live });
  const renewed = certs.renew("lib-renewed");
  copyFileSync(renewed.cert, live.cert);
  copyFileSync(renewed.key, live.key);
  expect(server.reloadTls()).toEqual({ status: "reloaded", listeners: 1, serial: renewed.serial });
  copyFileSync(certs.client.key, live.key);
  expect(server.reloadTls()).toEqual({
    status: "refused",
    reason: `The TLS certificate ${live.cert} does not match the key ${live.key}`,
  });
  await using plain = startServer({ port: 0 });
  expect(plain.reloadTls()).toEqual({ status: "no-tls" });
});

test("--json: one starting event per listener, with address, port where there is one, and transport", async () => {
  const path = join(dir, "json.sock");
  await using server = await startListeningServer(
    [
      "--json",
      ...[
        "--listen",
        "127.0.0.1:0",
        "--listen",
        "[::1]:0",
        "--listen",
        "tls://127.0.0.1:0",
        "--listen",
        `unix:${path}`,
      ],
      ...[
        "--listen",
        `unix:@socket-lab-json-${process.pid}`,
        "--tls-cert",
        certs.server.cert,
        "--tls-key",
        certs.server.key,
      ],
    ],
    5,
  );
  const events = server.stderr.lines
    .map((line) => JSON.parse(line))
    .filter((event) => event.event === "starting")
    .map(({ address, port, transport }) => ({ address, port, transport }));
  expect(events).toEqual([
    { address: "127.0.0.1", port: expect.any(Number), transport: "tcp" },
    { address: "::1", port: expect.any(Number), transport: "tcp" },
    { address: "127.0.0.1", port: expect.any(Number), transport: "tls" },
    { address: path, port: undefined, transport: "unix" },
    { address: `@socket-lab-json-${process.pid}`, port: undefined, transport: "unix" },
  ]);
  expect(await server.stop()).toBe(0);
});
