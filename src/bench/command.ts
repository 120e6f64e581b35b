// `client bench`: the load generator as a subcommand of the client. Flags in, options out; the
// work is in generator.ts, the output in report.ts, both loaded only when a run starts.
import { defineCommand } from "citty";
import { connectArgs, formatSeconds, parseFraming, parseInteger, parseSeconds, UsageError } from "../cli/args.ts";
import { clientNetworkArgs, parseClientNetworkFlags } from "../cli/client-network-args.ts";
import { BENCH_EXIT_CODES } from "../cli/exit-code-help.ts";
import { ExitCode } from "../cli/exit-codes.ts";
import { type HelpArgsDef, withHelp } from "../cli/help.ts";
import { CLIENT_DEFAULTS } from "../client/options.ts";
import { connectFailureOutcome, INSECURE_WARNING } from "../client/outcome.ts";
import { loadTlsFiles, TlsFileError } from "../net/tls-files.ts";
import { escapeForTerminal } from "../output/escape.ts";
import { utf8Length } from "../protocol/utf8.ts";
import { BENCH_DEFAULTS, MAX_BATCH_BYTES, MAX_PIPELINE } from "./defaults.ts";
import { runBench } from "./generator.ts";
import { Histogram } from "./histogram.ts";
import { formatDistribution, formatProgress, formatSummary } from "./report.ts";

// Each flag's `group` is the --help section that lists it (src/cli/help.ts, HELP_GROUPS).
const benchArgs = {
  ...connectArgs(BENCH_DEFAULTS),
  ...clientNetworkArgs,
  // Why these two differ from the client's: see defaults.ts.
  timeout: {
    type: "string",
    valueHint: "SECONDS",
    group: "connection",
    description: `How long to wait for each connection; longer than the client's ${formatSeconds(CLIENT_DEFAULTS.connectTimeoutMs)} s, as a server taking many connections at once is slow to accept each`,
    default: formatSeconds(BENCH_DEFAULTS.connectTimeoutMs),
  },
  "response-timeout": {
    type: "string",
    valueHint: "SECONDS",
    group: "connection",
    description: `End the run with errors when no reply at all arrives for this long: a server silent that long is broken, not slow (the client waits ${formatSeconds(CLIENT_DEFAULTS.responseTimeoutMs)} s) (0: for ever)`,
    default: formatSeconds(BENCH_DEFAULTS.responseTimeoutMs),
  },
  connections: {
    type: "string",
    alias: "c",
    valueHint: "N",
    group: "load",
    description: "Connections, all open at once",
    default: String(BENCH_DEFAULTS.connections),
  },
  duration: {
    type: "string",
    alias: "d",
    valueHint: "SECONDS",
    group: "load",
    description: "How long to run once connected (unless --requests)",
    default: formatSeconds(BENCH_DEFAULTS.durationMs),
  },
  requests: {
    type: "string",
    alias: "n",
    valueHint: "N",
    group: "load",
    description: "Stop after this many acknowledged messages instead",
  },
  pipeline: {
    type: "string",
    alias: "P",
    valueHint: "N",
    group: "load",
    description: `Messages in flight per connection: sent in one write, all replies awaited (line framing; at most ${MAX_PIPELINE})`,
    default: String(BENCH_DEFAULTS.pipeline),
  },
  message: {
    type: "string",
    alias: "m",
    valueHint: "TEXT",
    group: "load",
    description: "The message to send",
    default: BENCH_DEFAULTS.message,
  },
  json: {
    type: "boolean",
    group: "output",
    description: "Print the result as one JSON object on stdout",
    default: false,
  },
  quiet: { type: "boolean", group: "output", description: "No progress line on stderr", default: false },
  "send-proxy": {
    type: "boolean",
    group: "connection",
    description:
      "Start each connection with a PROXY protocol v1 header naming its own addresses, as HAProxy's send-proxy does (for a server run with --proxy-protocol)",
    default: BENCH_DEFAULTS.sendProxyHeader,
  },
} as const satisfies HelpArgsDef;

export const benchCommand = withHelp(
  defineCommand({
    meta: {
      name: "bench",
      description: "Load generator: N connections send messages; prints messages/s and latency.",
    },
    args: benchArgs,
    async run({ args }) {
      const framing = parseFraming(args.framing);
      const pipeline = parseInteger("pipeline", args.pipeline, 1);
      if (framing === "raw" && pipeline > 1)
        throw new UsageError("--pipeline must be 1 in raw framing (a read is a message)");
      if (args.message.includes("\n")) throw new UsageError("--message must be one line");
      if (framing === "raw" && args.message === "")
        throw new UsageError("--message must not be empty in raw framing (an empty read is no message)");
      // One batch is one write, and a server that does not read keeps it in our memory, per
      // connection: -P 100000000 made a 1-second run take 2 GB.
      if (pipeline > MAX_PIPELINE) throw new UsageError(`--pipeline must be at most ${MAX_PIPELINE}, got ${pipeline}`);
      const lineBytes = utf8Length(args.message) + 1;
      if (pipeline * lineBytes > MAX_BATCH_BYTES)
        throw new UsageError(
          `--pipeline ${pipeline} of --message's ${lineBytes} bytes is ${pipeline * lineBytes} bytes in one write: at most ${MAX_BATCH_BYTES}`,
        );
      const durationMs = parseSeconds("duration", args.duration);
      if (durationMs <= 0 && args.requests === undefined)
        throw new UsageError("--duration must be more than 0 seconds");
      const { tls: tlsSettings, ...where } = parseClientNetworkFlags(args);
      // The header goes before anything else on the connection: before TLS, which Bun's client
      // starts itself; and a Unix socket has no addresses to name.
      if (args["send-proxy"] && (tlsSettings || where.unix !== undefined))
        throw new UsageError("--send-proxy is for plain TCP connections (not with --tls or --unix)");
      let tls: Awaited<ReturnType<typeof loadTlsFiles>> | undefined;
      try {
        tls = tlsSettings && (await loadTlsFiles(tlsSettings));
      } catch (error) {
        if (!(error instanceof TlsFileError)) throw error;
        process.stderr.write(`[ERROR] ${error.message}\n`);
        return ExitCode.failure;
      }
      if (tls && !tls.verify) process.stderr.write(`${INSECURE_WARNING}\n`);
      // One line per distinct reason, not one per connection: 50 connections fail the same way.
      const failuresShown = new Set<string>();
      const showOnce = (line: string) => {
        if (failuresShown.has(line)) return;
        failuresShown.add(line);
        process.stderr.write(`${progressOnTerminal ? "\r\x1b[K" : ""}${line}\n`);
      };
      const progressOnTerminal = process.stderr.isTTY === true;
      const histogram = new Histogram();
      // Ctrl+C ends the run early with its summary so far, as hey and oha do; a second exits at once.
      const interrupt = new AbortController();
      const onSignal = () => (interrupt.signal.aborted ? process.exit(ExitCode.interrupted) : interrupt.abort());
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
      const result = await runBench({
        signal: interrupt.signal,
        histogram,
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
        sendProxyHeader: args["send-proxy"],
        onConnectFailure: (failure) => showOnce(connectFailureOutcome(failure).error!),
        // As the client says a notice, without its count of messages (each connection has its own).
        onNotice: (text) => showOnce(`[ERROR] ${escapeForTerminal(text)}`),
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
      if (interrupt.signal.aborted) return ExitCode.interrupted;
      return result.errors === 0 ? 0 : 1;
    },
  }),
  {
    examples: [
      { does: "50 connections for 5 seconds against the local server.", command: "client bench -c 50 -d 5" },
      { does: "Exactly 100,000 messages, 16 in flight per connection.", command: "client bench -n 100000 -P 16" },
      {
        does: "Any server that answers each line with a line: redis-server.",
        command: "client bench --port 6379 -m PING",
      },
      { does: "Just the rate, for a script.", command: "client bench --json --quiet | jq .messagesPerSecond" },
    ],
    exitCodes: BENCH_EXIT_CODES,
  },
);
