// The one-shot: `client -m TEXT` with its output going to a pipe or a file, as a script runs it to
// send a message and check the ack (exit 0) or the failure (exit 3, 4, 5 ...). It runs here, not
// through the whole program (cli.ts, main.ts, pipeline.ts, session.ts): loading and first
// running those costs a compiled binary ~1.3 ms, a fifth of a whole one-shot (BENCHMARKS.md,
// "one-shot"). So this is a small program for exactly the command lines it can take, made of the
// same parts: the ServerLink, the Outcomes, the reply checks, the status lines and the sinks. Any
// other command line goes to the whole program (oneShotPlan says which): tests/one-shot.test.ts
// runs both against the same servers and server faults and compares everything they print.
//
// What the whole program does with such a command line, and so this does too: the messages are
// one send, line framing, no --reconnect; status lines on stderr (none with --quiet, errors
// always); acks on stdout as they came; exit 0 once every message is acknowledged, else the
// Outcome's code and line; Ctrl+C ends the run as interrupted, a second one exits at once.

import { ClientExit } from "../cli/exit-codes.ts";
import { terminalNow } from "../cli/terminal.ts";
import { ConnectError } from "../net/connect.ts";
import { flushLogs, toStderr } from "../output/logger.ts";
import { createLineSink, flushWithin } from "../output/sink.ts";
import { countLineBreaks, decodeLines, splitLines } from "../protocol/framing.ts";
import { classifyReply, countAcks } from "../protocol/messages.ts";
import { isAscii, isUtf8, utf8Length } from "../protocol/utf8.ts";
import { ServerLink } from "./link.ts";
import { CLIENT_DEFAULTS } from "./options.ts";
import {
  connectFailureOutcome,
  linkEndOutcome,
  noticeOutcome,
  type Outcome,
  responseTimeoutOutcome,
  type Tally,
  unexpectedReplyOutcome,
} from "./outcome.ts";
import { connectingLine } from "./status.ts";

export interface OneShot {
  host: string;
  port: number;
  messages: string[];
  quiet: boolean;
}

/**
 * Messages larger than this go to the whole program: it holds the replies back when stdout falls
 * behind, which acks this small never need.
 */
const MAX_ONE_SHOT_BYTES = 64 * 1024;
/** As main.ts: how long an interrupted run waits for stdout to take the acks already received. */
const INTERRUPTED_FLUSH_MS = 500;

/**
 * The one-shot a command line asks for, or undefined when it asks for anything else. It takes
 * only flags spelt as the whole program reads them (flags.ts: `--name value`, `--name=value`, the
 * value being the next argument whatever it looks like, the last of a repeated flag winning) and
 * only valid values; everything else (another flag, a bad port, --help) is left to the whole
 * program, which says what is wrong.
 */
export function oneShotPlan(
  args: readonly string[],
  terminal: (stream: "stdout" | "stderr") => boolean | undefined = terminalNow,
): OneShot | undefined {
  const plan: OneShot = {
    host: CLIENT_DEFAULTS.host,
    port: CLIENT_DEFAULTS.port,
    messages: [],
    quiet: false,
  };
  let bytes = 0;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--quiet") {
      plan.quiet = true;
      continue;
    }
    const equals = arg.indexOf("=");
    const name = equals === -1 ? arg : arg.slice(0, equals);
    if (name !== "-m" && name !== "--message" && name !== "--host" && name !== "--port") return undefined;
    let value: string;
    if (equals !== -1) value = arg.slice(equals + 1);
    else if (i + 1 < args.length) value = args[++i]!;
    else return undefined;
    if (name === "--host") plan.host = value;
    else if (name === "--port") {
      const port = portNumber(value);
      if (port === undefined) return undefined;
      plan.port = port;
    } else {
      bytes += utf8Length(value) + 1;
      if (bytes > MAX_ONE_SHOT_BYTES) return undefined;
      plan.messages.push(value);
    }
  }
  if (plan.messages.length === 0) return undefined;
  // A terminal shows acks escaped, and a live progress line on stderr: the whole program's work.
  // Where that cannot be known at once (no native isatty), it is the whole program's work too.
  if (terminal("stdout") !== false || (!plan.quiet && terminal("stderr") !== false)) return undefined;
  return plan;
}

/** Runs the one-shot; resolves with the exit code, everything written. */
export async function runOneShot(plan: OneShot): Promise<number> {
  const status = plan.quiet ? () => {} : (line: string) => toStderr(`${line}\n`);
  const output = createLineSink("stdout", {
    onFailure(error) {
      // As main.ts: a reader gone stops us quietly (SIGPIPE's way); any other failure fails the run.
      if (error.code === "EPIPE") process.exit(ClientExit.brokenPipe);
      toStderr(`[ERROR] Cannot write to stdout: ${error.code ?? error.message}\n`);
      void flushLogs().then(() => process.exit(ClientExit.failure));
    },
  });
  const target = { host: plan.host, port: plan.port };
  const outcome = await new Promise<Outcome>((settle) => {
    let over = false;
    const end = (result: Outcome) => {
      if (over) return;
      over = true;
      clearTimeout(responseTimer);
      link?.close();
      settle(result);
    };
    let signals = 0;
    const onSignal = () => {
      if (++signals > 1 || over) process.exit(ClientExit.interrupted);
      end({ exitCode: ClientExit.interrupted, error: "[INTERRUPT] Client shutting down..." });
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);

    const tally: Tally = { sent: 0, acknowledged: 0 };
    let failure: Outcome | undefined;
    let link: ServerLink | undefined;
    let responseTimer: Timer | undefined;
    let lastProgressAt = 0;
    const timeoutMs = CLIENT_DEFAULTS.responseTimeoutMs;
    // As the session's: one timer, re-armed from the last progress when it fires.
    const checkSilence = () => {
      const silentFor = performance.now() - lastProgressAt;
      if (silentFor >= timeoutMs) end(responseTimeoutOutcome(timeoutMs, tally));
      else responseTimer = setTimeout(checkSilence, timeoutMs - silentFor);
    };
    const acknowledged = (count: number) => {
      lastProgressAt = performance.now();
      tally.acknowledged += count;
    };
    // As the session: the first failure counts, and replies after it are not looked at.
    const replied = (text: string) => {
      if (failure) return;
      const reply = classifyReply(text);
      if (reply.kind === "notice") failure = noticeOutcome(reply.text, tally);
      else if (reply.kind !== "ack" || tally.sent === tally.acknowledged) failure = unexpectedReplyOutcome(text, tally);
      else {
        output.write(`${text}\n`);
        acknowledged(1);
      }
    };
    /** After each read: the run ends at a failure, or once nothing is owed. */
    const settleAfterRead = () => {
      if (failure) end(failure);
      else if (tally.acknowledged === tally.sent) end({ exitCode: ClientExit.ok });
    };

    status(connectingLine(target));
    ServerLink.open(
      { ...target, framing: "line", connectTimeoutMs: CLIENT_DEFAULTS.connectTimeoutMs },
      {
        reply(text) {
          replied(text);
          settleAfterRead();
        },
        replies(lines) {
          if (failure) return;
          const count = countAcks(lines);
          const owed = tally.sent - tally.acknowledged;
          if (count < 0 || count > owed) splitLines(decodeLines(lines), replied);
          else {
            // As they came, into a pipe; bytes that are not UTF-8 are printed as U+FFFD.
            if (isAscii(lines) || isUtf8(lines)) output.writeBytes(lines);
            else output.write(lines.toString("utf8"));
            acknowledged(count);
          }
          settleAfterRead();
        },
        ended(how) {
          if (!failure) failure = linkEndOutcome(how, tally);
          end(failure);
        },
      },
    ).then(
      (opened) => {
        if (over) return opened.close();
        link = opened;
        status("[CONNECTED] Connected to server");
        let text = "";
        for (const message of plan.messages) text += `${message}\n`;
        const bytes = new TextEncoder().encode(text);
        tally.sent = countLineBreaks(bytes);
        lastProgressAt = performance.now();
        link.send(bytes);
        if (timeoutMs > 0) responseTimer = setTimeout(checkSilence, timeoutMs);
      },
      (error) =>
        end(
          connectFailureOutcome(
            error instanceof ConnectError ? error.failure : { kind: "error", error: error as Error },
          ),
        ),
    );
  });
  // The acks first, then the last lines on stderr (`2>&1` into one pipe keeps that order).
  if (outcome.exitCode === ClientExit.interrupted) await flushWithin(output, INTERRUPTED_FLUSH_MS);
  else await output.flush();
  if (outcome.error) toStderr(`${outcome.error}\n`);
  status("[DISCONNECTED] Disconnected from server");
  await flushLogs();
  return outcome.exitCode;
}

/** A port as the whole program takes it (1 to 65535, digits only), or undefined. */
function portNumber(text: string): number | undefined {
  if (text.length === 0 || text.length > 5) return undefined;
  let port = 0;
  for (let i = 0; i < text.length; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return undefined;
    port = port * 10 + digit;
  }
  return port >= 1 && port <= 65535 ? port : undefined;
}
