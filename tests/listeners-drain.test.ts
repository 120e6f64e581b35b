// One server, three listeners (TCP, TLS, Unix socket), all served at once, and one SIGTERM that
// drains them all: exit 0, and on every listener each message the server logged was acknowledged
// before its `ERROR server shutting down`.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeCertificates, readPem, type TestCertificates } from "./helpers/certs.ts";
import { startListeningServer } from "./helpers/listeners.ts";
import { pump } from "./helpers/load.ts";
import { eventually, withDeadline } from "./helpers/processes.ts";
import { RawClient } from "./helpers/sockets.ts";
import { ack } from "./helpers/spec.ts";

const PEERS_PER_LISTENER = 4;

let certs: TestCertificates;
let dir: string;
beforeAll(() => {
  certs = makeCertificates();
  dir = mkdtempSync(join(tmpdir(), "socket-lab-drain-"));
});
afterAll(() => {
  certs[Symbol.dispose]();
  rmSync(dir, { recursive: true, force: true });
});

test("TCP, TLS and Unix listeners in one server, pipelining clients on each, one SIGTERM: zero lost acks", async () => {
  const path = join(dir, "drain.sock");
  await using server = await startListeningServer(
    [
      ...["--listen", "127.0.0.1:0", "--listen", "tls://127.0.0.1:0", "--listen", `unix:${path}`],
      ...["--tls-cert", certs.server.cert, "--tls-key", certs.server.key, "--drain-timeout", "5"],
    ],
    3,
  );
  expect(server.addresses).toEqual([
    expect.stringMatching(/^127\.0\.0\.1:\d+$/),
    expect.stringMatching(/^tls:\/\/127\.0\.0\.1:\d+$/),
    `unix:${path}`,
  ]);
  const tcp = server.portOf("127.0.0.1:");
  const tls = server.portOf("tls://");
  const connectors = {
    tcp: () => RawClient.connect(tcp),
    tls: () => RawClient.connect(tls, "127.0.0.1", { tls: { ca: readPem(certs.ca) } }),
    unix: () => RawClient.connect(0, undefined, { unix: path }),
  };
  const peers = await Promise.all(
    Object.entries(connectors).flatMap(([kind, connect]) =>
      Array.from({ length: PEERS_PER_LISTENER }, async (_, i) => ({ name: `${kind}${i}`, peer: await connect() })),
    ),
  );
  for (const { name, peer } of peers) pump(peer, name);
  await eventually(() => peers.every(({ peer }) => peer.receivedLines > 100), 20_000, "every peer served");

  expect(await server.stop("SIGTERM")).toBe(0);
  // Each peer's messages, as the server logged them (by their unique text), in order.
  const logged = (name: string) =>
    server.stdout.lines.flatMap((line) => {
      const text = line.slice(line.indexOf("] ") + 2);
      return text.startsWith(`${name}-`) ? [text] : [];
    });
  for (const { name, peer } of peers) {
    await withDeadline(peer.ending, 5000, `${name} not closed`);
    const lines = peer.replies.lines;
    expect(lines.at(-1)).toBe("ERROR server shutting down");
    const received = logged(name);
    expect(received.length).toBeGreaterThan(100);
    expect(lines.slice(0, -1)).toEqual(received.map(ack));
  }
}, 60_000);
