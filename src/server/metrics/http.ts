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
// - Throws ListenError (one plain sentence) when it cannot listen.
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { formatAddress } from "../../net/address.ts";
import { ListenError, listenError } from "../listeners/listener.ts";
import { createExposition, type WorkerSnapshot } from "./exposition.ts";

export type { WorkerSnapshot } from "./exposition.ts";

export type Health = "serving" | "draining";

export interface MetricsServerOptions {
  host: string;
  port: number;
  version: string;
  collect: () => Promise<readonly WorkerSnapshot[]>;
  health: () => Health;
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

export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const { host, collect, health } = options;
  const exposition = createExposition(options.version);
  const text = (body: string, status: number, headers: Record<string, string> = {}) =>
    new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8", ...headers } });

  const routes: Record<string, () => Promise<Response> | Response> = {
    "/metrics": async () =>
      new Response(await exposition.render(await collect()), { headers: { "content-type": exposition.contentType } }),
    "/healthz": () => (health() === "serving" ? text("ok", 200) : text("draining", 503)),
  };

  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({
      hostname: host,
      port: options.port,
      // No development error pages: a failed scrape says why in one line.
      development: false,
      // Bun turns SO_REUSEPORT on for a server with development off unless told not to: a second
      // server given the same --metrics address would bind it too, and scrapes and health checks
      // would go to either process at the kernel's choice. A busy address must be an error.
      reusePort: false,
      fetch(request) {
        // Without a usable Host header (an HTTP/1.0 health check sends none) the URL is just the
        // path, which `new URL` alone refuses: the base gives it a host to parse against.
        const route = routes[URL.parse(request.url, "http://localhost")?.pathname ?? ""];
        if (!route) return text("not found", 404);
        if (request.method !== "GET" && request.method !== "HEAD")
          return text("method not allowed", 405, { allow: ALLOWED_METHODS });
        return route();
      },
      error: (error) => text(`cannot collect metrics: ${error.message}`, 500),
    });
  } catch (error) {
    throw await bindError(error, host, options.port);
  }
  const port = server.port ?? options.port;
  return {
    host,
    port,
    url: `http://${formatAddress(host, port)}/metrics`,
    stop: () => server.stop(true),
  };
}

/**
 * Bun.serve reports a host name that does not resolve as EADDRINUSE (port 0) or ENOTCONN, which
 * would send the operator looking for another program on the port: ask the resolver instead.
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
