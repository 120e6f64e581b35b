// One logger per program, made explicitly: consola for levels and the API, with two tiny reporters
// of our own so that stderr carries exactly the tutorial's lines (text) or one JSON object per
// event (--json). Lifecycle events only: per-message output is too hot for consola (see LineSink).
import { type ConsolaInstance, createConsola, type LogObject } from "consola/core";
import { createLineSink, flushWithin, type LineSink } from "./sink.ts";

export type LogFormat = "text" | "json";
export const LOG_LEVELS = ["silent", "error", "warn", "info", "debug", "trace"] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];
const LEVEL_NUMBERS: Record<LogLevelName, number> = {
  silent: -999,
  error: 0,
  warn: 1,
  info: 3,
  debug: 4,
  trace: 5,
};

/** Structured fields of one event; the text form is the first log argument. */
export type EventFields = { event: string } & Record<string, unknown>;

export interface LoggerOptions {
  level: LogLevelName;
  format: LogFormat;
  /** Where info and debug lines go; defaults to stderr so that stdout carries data only. */
  write?: (line: string) => void;
  /** Where warnings and errors go; defaults to stderr. */
  writeErrors?: (line: string) => void;
}

/** consola's numeric level for warnings: this and below are errors and warnings. */
const WARN_LEVEL = 1;

export type Logger = ConsolaInstance;

let stderrSink: LineSink | undefined;

/**
 * Log lines go to stderr through Bun's native writer, not process.stderr: the first use of
 * process.stderr costs ~10 ms of startup in a compiled binary, more than a whole one-shot
 * `client -m hi` round trip. The writer flushes every event-loop turn; flushLogs() before exit.
 */
export function toStderr(line: string): void {
  // A stderr nobody reads (`server 2>&1 | sleep 300`) must not grow memory: past the limit, lines drop.
  stderrSink ??= createLineSink("stderr", { dropWhenBehind: { limit: LOG_BACKLOG_CHARS } });
  stderrSink.write(line);
}

const LOG_BACKLOG_CHARS = 4 * 1024 * 1024;
/** How long the exit waits for stderr to take the last log lines. */
const LOG_FLUSH_AT_EXIT_MS = 1000;

/** Writes out log lines still buffered; the CLI runner calls it before the process exits. */
export async function flushLogs(): Promise<void> {
  if (stderrSink) await flushWithin(stderrSink, LOG_FLUSH_AT_EXIT_MS);
}

export function createLogger(options: LoggerOptions): Logger {
  const write = options.write ?? toStderr;
  const writeErrors = options.writeErrors ?? toStderr;
  const format = options.format === "json" ? formatJson : formatText;
  const reporter = {
    log(logObj: LogObject) {
      (logObj.level <= WARN_LEVEL ? writeErrors : write)(format(logObj));
    },
  };
  return createConsola({
    level: LEVEL_NUMBERS[options.level],
    reporters: [reporter],
    // consola folds identical lines logged close together into "(repeated N times)":
    // a log of connections must show every one.
    throttle: 0,
  });
}

function formatText(logObj: LogObject): string {
  const [text, ...rest] = logObj.args;
  const extra = rest.filter((arg) => arg instanceof Error || typeof arg === "string");
  // An Error logged on its own (logger.debug(error)) shows its stack: that is what debug is for.
  const first = text instanceof Error ? (text.stack ?? text.message) : text;
  return `${[first, ...extra.map(formatExtra)].join(" ")}\n`;
}

function formatJson(logObj: LogObject): string {
  const [text, fields] = logObj.args as [unknown, EventFields | undefined];
  const record: Record<string, unknown> = { time: logObj.date.toISOString(), level: logObj.type };
  if (fields && typeof fields === "object" && "event" in fields) Object.assign(record, fields);
  else record.event = "log";
  record.text = text instanceof Error ? (text.stack ?? text.message) : String(text);
  return `${JSON.stringify(record)}\n`;
}

function formatExtra(arg: unknown): string {
  return arg instanceof Error ? `\n${arg.stack ?? arg.message}` : String(arg);
}
