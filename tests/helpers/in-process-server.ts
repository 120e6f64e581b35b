// The server in this process, for tests that drive it over real loopback sockets and check what it
// reports: `await using served = serveInProcess({ ... })` gives a server on a free port, the
// recorder of its events, and raw clients that are reset (and the server dropped) at the end of
// the scope, whether the test passed or not.

import { RawClient } from "../../harness/raw-client.ts";
import { type RunningServer, type ServerOptions, startServer } from "../../src/server/server.ts";
import { EventRecorder } from "./server-events.ts";

export interface InProcessServer extends AsyncDisposable {
  readonly server: RunningServer;
  readonly port: number;
  readonly recorder: EventRecorder;
  /** A raw client connected to the server. */
  connect(): Promise<RawClient>;
}

/** Starts the server on 127.0.0.1, port 0, recording its events (unless `options.events` says otherwise). */
export function serveInProcess(options: Partial<ServerOptions> = {}): InProcessServer {
  const recorder = new EventRecorder();
  const server = startServer({ host: "127.0.0.1", port: 0, events: recorder.events, ...options });
  const clients: RawClient[] = [];
  return {
    server,
    port: server.port,
    recorder,
    connect: async () => {
      const client = await RawClient.connect(server.port);
      clients.push(client);
      return client;
    },
    // kill(), not the graceful stop(): a test that wants the graceful stop calls it and checks it;
    // the end of the scope only has to leave nothing behind, at once.
    async [Symbol.asyncDispose]() {
      for (const client of clients) client.terminate();
      server.kill();
    },
  };
}
