// The metrics and health endpoint (`--metrics HOST:PORT`): its own HTTP listener, beside the
// message listeners and outside startServer, because the process that serves it is not always
// the one that serves clients (with workers, a supervisor answers for all of them).
//
// The contract, for one server or a supervisor of several:
//
//   const endpoint = await startMetricsServer({
//     host: "127.0.0.1", port: 9100,       // port 0: any free one (endpoint.port says which)
//     version: "0.2.0",                    // socketlab_build_info{version}
//     collect: async () => [{ stats, active }],           // once per scrape of GET /metrics
//     health: () => (draining ? "draining" : "serving"),  // once per GET /healthz
//   });
//   console.log(endpoint.url);             // http://127.0.0.1:9100/metrics
//   await endpoint.stop();
//
// - collect() gives ServerSnapshots (RunningServer.snapshot(), or copies sent by workers). Those
//   without `worker` are summed into one series per family; those with `worker: "2"` keep their own
//   series labelled worker="2", and the sum over that label is the whole server. A counter series
//   must never go down: a restarted worker starting again at 0 is fine under its own label
//   (Prometheus reads it as that series' reset), not inside an unlabelled sum.
// - If collect() rejects, the scrape answers 500 with the reason; the server goes on.
// - The process_ and nodejs_ metrics describe the process serving this endpoint.
// - GET or HEAD /metrics (Prometheus text, version 0.0.4) and /healthz (200 `ok` while serving,
//   503 `draining` from the first signal until exit, so a balancer stops sending new clients
//   before the listeners close). Another path: 404; another method: 405.
// - At most `maxConnections` (64) connections at once, each bounded in what it may send and how
//   slowly (http-listener.ts): the endpoint cannot take the descriptors the clients' limit keeps.
// - Throws ListenError (one plain sentence) when it cannot listen.
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { formatAddress } from "../../net/address.ts";
import { ListenError, listenError } from "../listeners/listener.ts";
import { createExposition, type WorkerSnapshot } from "./exposition.ts";
import { DEFAULT_MAX_HTTP_CONNECTIONS, type HttpListener, type HttpResponse, listenHttp } from "./http-listener.ts";

export type { WorkerSnapshot } from "./exposition.ts";

export type Health = "serving" | "draining";

export interface MetricsServerOptions {
  host: string;
  port: number;
  version: string;
  collect: () => Promise<readonly WorkerSnapshot[]>;
  health: () => Health;
  /** Connections served at once (64 unless given); the next is answered 503 and closed. */
  maxConnections?: number;
  /** For a request head to arrive whole, and a kept-alive connection to sit idle (10 s unless given). */
  requestTimeoutMs?: number;
}

export interface MetricsServer {
  readonly host: string;
  /** The port really listened on. */
  readonly port: number;
  /** Where Prometheus scrapes: `http://HOST:PORT/metrics`. */
  readonly url: string;
  /** Stops listening and closes the connections of scrapes in progress. */
  stop(): Promise<void>;
}

const ALLOWED_METHODS = "GET, HEAD";
/** For a request head to arrive whole, and for a kept-alive connection to sit idle. */
const REQUEST_TIMEOUT_MS = 10_000;

export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const { host, collect, health } = options;
  const exposition = createExposition(options.version);
  const routes: Record<string, () => Promise<HttpResponse> | HttpResponse> = {
    "/metrics": async () => {
      try {
        return {
          status: 200,
          body: await exposition.render(await collect()),
          headers: { "content-type": exposition.contentType },
        };
      } catch (error) {
        // A failed scrape says why in one line; the endpoint goes on.
        return { status: 500, body: `cannot collect metrics: ${(error as Error).message}` };
      }
    },
    "/healthz": () => (health() === "serving" ? { status: 200, body: "ok" } : { status: 503, body: "draining" }),
  };

  let listener: HttpListener;
  try {
    listener = listenHttp({
      hostname: host,
      port: options.port,
      maxConnections: options.maxConnections ?? DEFAULT_MAX_HTTP_CONNECTIONS,
      requestTimeoutMs: options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS,
      handle(request) {
        // Own keys only: a target such as /__proto__ or /constructor is no route.
        const route = Object.hasOwn(routes, request.path) ? routes[request.path] : undefined;
        if (!route) return { status: 404, body: "not found" };
        if (request.method !== "GET" && request.method !== "HEAD")
          return { status: 405, body: "method not allowed", headers: { allow: ALLOWED_METHODS } };
        return route();
      },
    });
  } catch (error) {
    throw await bindError(error, host, options.port);
  }
  const { port } = listener;
  return {
    host,
    port,
    url: `http://${formatAddress(host, port)}/metrics`,
    stop: async () => listener.stop(),
  };
}

/**
 * Bun reports a host name that does not resolve as EADDRINUSE (port 0) or ENOTCONN, which would
 * send the operator looking for another program on the port: ask the resolver instead.
 */
async function bindError(error: unknown, host: string, port: number): Promise<ListenError> {
  if (isIP(host) === 0) {
    try {
      await lookup(host);
    } catch {
      return new ListenError(`Cannot resolve host ${host}`, "ENOTFOUND");
    }
  }
  return listenError(error, { transport: "tcp", host, port });
}
