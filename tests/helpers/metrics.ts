// A Prometheus scrape for tests: find the URL a server announced, fetch it, and read the
// exposition into a map of series to values (`name{label="value"}` as written in the text).
import type { ServerProcess } from "./processes.ts";

/** The URL of the `[METRICS] Serving metrics on http://HOST:PORT/metrics` line. */
export async function metricsUrl(server: ServerProcess): Promise<string> {
  const [, url] = await server.stderr.waitFor(/\[METRICS\] Serving metrics on (http:\/\/\S+\/metrics)\n/);
  return url!;
}

/** The endpoint's base (`http://HOST:PORT/`), for /healthz and the paths that do not exist. */
export const endpointBase = (url: string) => url.replace(/metrics$/, "");

export interface Scrape {
  status: number;
  contentType: string | null;
  text: string;
  /** Every sample: series (name and labels, as written) to value. */
  samples: Map<string, number>;
}

export async function scrape(url: string): Promise<Scrape> {
  const response = await fetch(url);
  const text = await response.text();
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return { status: response.status, contentType: response.headers.get("content-type"), text, samples };
}

/** The samples of the families whose names start with `prefix`, as one object to compare. */
export function family(samples: Map<string, number>, prefix: string): Record<string, number> {
  return Object.fromEntries([...samples].filter(([series]) => series.startsWith(prefix)));
}
