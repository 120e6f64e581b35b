// One logger per program, made explicitly: levels and two tiny formats of our own, so that stderr
// carries exactly the tutorial's lines (text) or one JSON object per event (--json). Lifecycle
// events only: per-message output goes through a LineSink. Not consola (which the spec names):
// creating it and its first calls cost a compiled binary ~1.7 ms of start-up, a fifth of a whole
// one-shot `client -m hi`, for a level filter this file already half-wrote around it.
import { escapeJsonForTerminal } from "./escape.ts";
import { createLineSink, flushWithin, type LineSink } from "./sink.ts";

export type LogFormat = "text" | "json";
export const LOG_LEVELS = ["silent", "error", "warn", "info", "debug", "trace"] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];
/** How much each level shows: a line is written when its level's number is at most this. */
const LEVEL_NUMBERS: Record<LogLevelName, number> = {
  silent: -1,
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

/** A line to log: its text (or an Error, whose stack is shown), and its fields for --json. */
type LogCall = (text: unknown, fields?: EventFields) => void;

export interface Logger {
  error: LogCall;
  warn: LogCall;
  info: LogCall;
  debug: LogCall;
  trace: LogCall;
}

type LineLevel = Exclude<LogLevelName, "silent">;

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
  const shown = LEVEL_NUMBERS[options.level];
  const at =
    (level: LineLevel): LogCall =>
    (text, fields) => {
      if (LEVEL_NUMBERS[level] > shown) return;
      // Errors and warnings may go elsewhere (the client's interactive session shows them on stderr).
      (LEVEL_NUMBERS[level] <= LEVEL_NUMBERS.warn ? writeErrors : write)(format(level, text, fields));
    };
  return { error: at("error"), warn: at("warn"), info: at("info"), debug: at("debug"), trace: at("trace") };
}

function formatText(_level: LineLevel, text: unknown): string {
  // An Error logged on its own (logger.debug(error)) shows its stack: that is what debug is for.
  return `${text instanceof Error ? (text.stack ?? text.message) : String(text)}\n`;
}

function formatJson(level: LineLevel, text: unknown, fields: EventFields | undefined): string {
  const record: Record<string, unknown> = { time: new Date().toISOString(), level };
  if (fields) Object.assign(record, fields);
  else record.event = "log";
  record.text = text instanceof Error ? (text.stack ?? text.message) : String(text);
  // Fields carry what peers chose (a client certificate's subject, a TLS server's names): a C1
  // control or a bidi override in them must reach a terminal as an escape, as in the text form.
  return `${escapeJsonForTerminal(JSON.stringify(record))}\n`;
}
