// `client bench`: the load generator as a subcommand of the client. Flags in, options out; the
// work is in generator.ts, the output in report.ts.
import { type ArgsDef, defineCommand } from "citty";
import { commonArgs, parseFraming, parseInteger, parseSeconds, UsageError } from "../cli/args.ts";
import { connectArgs, parseConnectFlags } from "../cli/connect-args.ts";
import { connectFailureOutcome, INSECURE_WARNING } from "../client/outcome.ts";
import { loadTlsFiles, TlsFileError } from "../net/tls-files.ts";
import { runBench } from "./generator.ts";
import { formatProgress, formatSummary } from "./report.ts";

const benchArgs = {
  host: commonArgs.host,
  port: commonArgs.port,
  ...connectArgs,
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
    const { tls: tlsSettings, ...where } = parseConnectFlags(args);
    let tls: ReturnType<typeof loadTlsFiles> | undefined;
    try {
      tls = tlsSettings && loadTlsFiles(tlsSettings);
    } catch (error) {
      if (!(error instanceof TlsFileError)) throw error;
      process.stderr.write(`[ERROR] ${error.message}\n`);
      return 1;
    }
    if (tls && !tls.verify) process.stderr.write(`${INSECURE_WARNING}\n`);
    // One line per distinct reason, not one per connection: 50 connections fail the same way.
    const failuresShown = new Set<string>();
    const progressOnTerminal = process.stderr.isTTY === true;
    const result = await runBench({
      ...where,
      tls,
      connections: parseInteger("connections", args.connections, 1),
      pipeline,
      message: args.message,
      framing,
      durationMs,
      requests: args.requests === undefined ? undefined : parseInteger("requests", args.requests, 1),
      connectTimeoutMs: parseSeconds("timeout", args.timeout),
      responseTimeoutMs: parseSeconds("response-timeout", args["response-timeout"]),
      onConnectFailure(failure) {
        const line = connectFailureOutcome(failure).error!;
        if (failuresShown.has(line)) return;
        failuresShown.add(line);
        process.stderr.write(`${progressOnTerminal ? "\r\x1b[K" : ""}${line}\n`);
      },
      onProgress: args.quiet
        ? undefined
        : (progress) =>
            process.stderr.write(
              progressOnTerminal ? `\r${formatProgress(progress)}\x1b[K` : `${formatProgress(progress)}\n`,
            ),
    });
    if (!args.quiet && progressOnTerminal) process.stderr.write("\r\x1b[K");
    process.stdout.write(args.json ? `${JSON.stringify(result)}\n` : `${formatSummary(result)}\n`);
    return result.errors === 0 ? 0 : 1;
  },
});
