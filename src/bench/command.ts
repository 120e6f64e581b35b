// `client bench`: the load generator as a subcommand of the client. Flags in, options out; the
// work is in generator.ts, the output in report.ts.
import { type ArgsDef, defineCommand } from "citty";
import { commonArgs, parseFraming, parseInteger, parsePort, parseSeconds, UsageError } from "../cli/args.ts";
import { runBench } from "./generator.ts";
import { Histogram } from "./histogram.ts";
import { formatDistribution, formatProgress, formatSummary } from "./report.ts";

const benchArgs = {
  host: commonArgs.host,
  port: commonArgs.port,
  framing: commonArgs.framing,
  connections: { type: "string", alias: "c", description: "Connections, all open at once", default: "50" },
  duration: {
    type: "string",
    alias: "d",
    description: "Seconds to run once connected (unless --requests)",
    default: "5",
  },
  requests: { type: "string", alias: "n", description: "Stop after this many acknowledged messages instead" },
  pipeline: {
    type: "string",
    alias: "P",
    description: "Messages per connection in flight: sent in one write, all replies awaited (line framing)",
    default: "1",
  },
  message: { type: "string", alias: "m", description: "The message to send", default: "ping" },
  timeout: { type: "string", description: "Seconds to wait for each connection", default: "10" },
  "response-timeout": {
    type: "string",
    description: "Seconds without any reply before the run ends with errors (0: wait forever)",
    default: "10",
  },
  json: { type: "boolean", description: "Print the result as one JSON object on stdout", default: false },
  quiet: { type: "boolean", description: "No progress line on stderr", default: false },
} as const satisfies ArgsDef;

export const benchCommand = defineCommand({
  meta: {
    name: "bench",
    description: "Load generator: N connections send messages and count reply lines (messages/s, latency percentiles)",
  },
  args: benchArgs,
  async run({ args }) {
    const framing = parseFraming(args.framing);
    const pipeline = parseInteger("pipeline", args.pipeline, 1);
    if (framing === "raw" && pipeline > 1)
      throw new UsageError("--pipeline must be 1 in raw framing (a read is a message)");
    if (args.message.includes("\n")) throw new UsageError("--message must be one line");
    const durationMs = parseSeconds("duration", args.duration);
    if (durationMs <= 0 && args.requests === undefined) throw new UsageError("--duration must be more than 0 seconds");
    const progressOnTerminal = process.stderr.isTTY === true;
    const histogram = new Histogram();
    const result = await runBench({
      histogram,
      host: args.host,
      port: parsePort(args.port, { allowZero: false }),
      connections: parseInteger("connections", args.connections, 1),
      pipeline,
      message: args.message,
      framing,
      durationMs,
      requests: args.requests === undefined ? undefined : parseInteger("requests", args.requests, 1),
      connectTimeoutMs: parseSeconds("timeout", args.timeout),
      responseTimeoutMs: parseSeconds("response-timeout", args["response-timeout"]),
      onProgress: args.quiet
        ? undefined
        : (progress) =>
            process.stderr.write(
              progressOnTerminal ? `\r${formatProgress(progress)}\x1b[K` : `${formatProgress(progress)}\n`,
            ),
    });
    if (!args.quiet && progressOnTerminal) process.stderr.write("\r\x1b[K");
    if (args.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else {
      const color = process.stdout.isTTY === true && !process.env.NO_COLOR;
      const distribution = formatDistribution(histogram, { color });
      process.stdout.write(`${formatSummary(result)}\n${distribution ? `${distribution}\n` : ""}`);
    }
    return result.errors === 0 ? 0 : 1;
  },
});
