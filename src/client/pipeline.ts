// Pipeline mode: every input line (or -m) is a message. In line framing, messages are pipelined:
// input bytes go to the server as they come (no round trip each) and acks are printed as they
// return, in order. In raw framing there is no delimiter, so each message waits for its reply.
import { ClientExit } from "../cli/exit-codes.ts";
import { releaseRead } from "../net/release-read.ts";
import { escapeForTerminal } from "../output/escape.ts";
import type { LineSink } from "../output/sink.ts";
import { LineDeframer } from "../protocol/framing.ts";
import { countLineBreaksInBulk } from "../protocol/line-scan.ts";
import { isUtf8 } from "../protocol/utf8.ts";
import type { Outcome } from "./outcome.ts";
import type { ProgressLine } from "./progress.ts";
import type { ReconnectOptions } from "./reconnect.ts";
import { type Say, Session, type SessionOptions } from "./session.ts";
import { connectingLine } from "./status.ts";

export interface PipelineOptions extends SessionOptions {
  json: boolean;
  /** Given: resend what a lost connection left unacknowledged, over a new one. */
  reconnect?: ReconnectOptions;
}

export interface PipelineIO {
  /** Input bytes: stdin, or the -m messages as lines, all known at the start. */
  input: Input;
  /** Acks, one line each. */
  output: LineSink;
  /** The output is a terminal: show acks with control characters escaped, as the server does. */
  outputIsTerminal: boolean;
  status: Say;
  /** A live progress line (stderr on a terminal), shown while messages flow. */
  progress?: ProgressLine;
  /** Set by the caller's Ctrl+C handler: ends the run as interrupted. */
  interrupted: Promise<void>;
}

/**
 * A stream (stdin), or bytes known whole at the start (-m): those need no stream, and a one-shot
 * `client -m hi` is spared setting one up (~0.1 ms: the first stream and reader of a run).
 */
export type Input = ReadableStream<Uint8Array> | Uint8Array;

const LF = 0x0a;
/** Input lines have no limit of their own here: the server enforces its message limit. */
const UNLIMITED = Number.MAX_SAFE_INTEGER;
/** Acks waiting for a slow stdout before we stop reading more of them. */
const STDOUT_HIGH_WATER_CHARS = 4 * 1024 * 1024;

/**
 * Messages sent and not yet acknowledged, oldest first, with when they were sent (--json). A
 * server that reads but does not answer (yet) would let them pile up without end: past
 * SENT_MESSAGES_COST, sending waits for acks (or for the response timeout).
 */
class SentMessages {
  private items: Array<{ text: string; sentAt: number } | undefined> = [];
  private head = 0;
  /** What the kept messages cost, roughly in bytes: their text and a little for each. */
  private cost = 0;
  private roomWaiter: (() => void) | undefined;

  add(text: string): void {
    this.items.push({ text, sentAt: performance.now() });
    this.cost += text.length + ITEM_COST;
  }

  get isFull(): boolean {
    return this.cost > SENT_MESSAGES_COST;
  }

  /** Resolves once acks have taken the kept messages down to half the limit. */
  whenRoom(): Promise<void> {
    return new Promise((resolve) => {
      this.roomWaiter = resolve;
    });
  }

  next(): { text: string; sentAt: number } {
    const item = this.items[this.head]!;
    this.items[this.head++] = undefined;
    this.cost -= item.text.length + ITEM_COST;
    if (this.roomWaiter && this.cost <= SENT_MESSAGES_COST / 2) {
      this.roomWaiter();
      this.roomWaiter = undefined;
    }
    // Drop the consumed front now and then, so a long run does not keep every message.
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

const SENT_MESSAGES_COST = 16 * 1024 * 1024;
const ITEM_COST = 64;

export async function runPipeline(options: PipelineOptions, io: PipelineIO): Promise<Outcome> {
  io.status(connectingLine(options));
  /** A stdout that falls behind holds the replies back in the kernel, not in memory. */
  const holdRepliesIfBehind = () => {
    if (io.output.backlog > STDOUT_HIGH_WATER_CHARS) session.holdRepliesUntil(io.output.flush());
  };
  /** Prints acks, as text or as the bytes that came. */
  const print = (text: string) => {
    io.output.write(text);
    holdRepliesIfBehind();
  };
  const printBytes = (lines: Buffer) => {
    io.output.writeBytes(lines);
    holdRepliesIfBehind();
  };
  // For --json each ack is matched with its message and the time it was sent.
  const sent = new SentMessages();
  const onAck = options.json
    ? (response: string) => {
        const { text, sentAt } = sent.next();
        const rttMs = Math.round((performance.now() - sentAt) * 1000) / 1000;
        print(`${JSON.stringify({ message: text, response, rtt_ms: rttMs })}\n`);
      }
    : io.outputIsTerminal
      ? (response: string) => print(`${escapeForTerminal(response)}\n`)
      : (response: string) => print(`${response}\n`);
  // Without --json (and not to a terminal) an ack is printed as it came, so a read's acks go out
  // whole, in one write, as the bytes that came (no decoding and encoding again). A pipe gets
  // them faithfully; a terminal gets them escaped. Bytes that are not UTF-8 are decoded first,
  // so they are printed as U+FFFD, as on every other path.
  const printAsIs = !options.json && !io.outputIsTerminal;
  const onAckLines = printAsIs
    ? (lines: Buffer) => (isUtf8(lines) ? printBytes(lines) : print(lines.toString("utf8")))
    : undefined;
  const session = new Session(options, {
    onAck,
    onAckLines,
    reconnect: options.reconnect && { ...options.reconnect, say: io.status },
  });

  const interrupted = io.interrupted.then(
    (): Outcome => ({
      exitCode: ClientExit.interrupted,
      error: "[INTERRUPT] Client shutting down...",
    }),
  );
  // With --reconnect the first connection may take a while too: Ctrl+C must not wait for it.
  const notConnected = await Promise.race([session.connect(), interrupted]);
  if (notConnected) {
    session.close();
    return notConnected;
  }
  io.status("[CONNECTED] Connected to server");
  io.progress?.start(session.tally);

  const stopped = Promise.race([session.failure, interrupted]);
  const track = options.json ? (text: string) => sent.add(text) : undefined;

  const sending =
    options.framing === "line"
      ? sendPipelined(session, io.input, stopped, track && sent)
      : sendOneAtATime(session, io.input, stopped, track);
  const finished = sending.then(async (): Promise<Outcome> => {
    await session.whenAllAcknowledged();
    // whenAllAcknowledged() also returns when the session fails: exit 0 only with nothing owed.
    if (session.hasFailed || session.owed > 0) return session.failure;
    return { exitCode: ClientExit.ok };
  });
  const outcome = await Promise.race([finished, stopped]);
  session.close();
  io.progress?.stop();
  return outcome;
}

/**
 * Line framing: forward input as it comes, counting the messages (LFs) it holds. Input after a
 * read's last LF waits for the rest of its line (up to HELD_LINE_BYTES, past which a long line
 * streams): a connection we drop mid-line (a failure, --reconnect, Ctrl+C) ends with our FIN, and
 * a server takes an unfinished last line at FIN for a whole message, one the user never sent.
 */
async function sendPipelined(
  session: Session,
  input: Input,
  stopped: Promise<unknown>,
  tracked: SentMessages | undefined,
): Promise<void> {
  const track = tracked && ((text: string) => tracked.add(text));
  const splitter = track && new LineDeframer(UNLIMITED);
  /** The start of a line whose LF has not come yet: a copy, not sent. */
  let held: Buffer | undefined;
  let endsWithLineBreak = true;
  for await (const chunk of readUntil(input, stopped)) {
    if (chunk.length === 0) continue;
    endsWithLineBreak = chunk[chunk.length - 1] === LF;
    splitter?.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength), track!);
    const lastLineBreak = chunk.lastIndexOf(LF);
    if (lastLineBreak === -1) {
      held = held ? Buffer.concat([held, chunk]) : Buffer.from(chunk);
      if (held.length >= HELD_LINE_BYTES) {
        session.sendFramed(held, 0);
        held = undefined;
      }
    } else {
      if (held) session.sendFramed(held, 0);
      const lines = lastLineBreak === chunk.length - 1 ? chunk : chunk.subarray(0, lastLineBreak + 1);
      session.sendFramed(lines, countLineBreaksInBulk(lines));
      held = lastLineBreak === chunk.length - 1 ? undefined : Buffer.from(chunk.subarray(lastLineBreak + 1));
    }
    // The outbox copies what it cannot send now, so only a kept copy for resending still needs it.
    if (!session.keepsSent) releaseRead(chunk);
    if (session.mustWait) await Promise.race([session.whenRoom(), stopped]);
    if (tracked?.isFull) await Promise.race([tracked.whenRoom(), stopped]);
    if (session.hasFailed) return;
  }
  if (!endsWithLineBreak && !session.hasFailed) {
    // A last line without its LF is still a message.
    const rest = splitter?.takeRest();
    if (rest !== undefined) track!(rest);
    if (held) session.sendFramed(held, 0);
    session.sendFramed("\n", 1);
  }
}

/** A line longer than this is sent as it comes, before its LF (the server's own limit is 1 MiB). */
const HELD_LINE_BYTES = 1024 * 1024;

/** Raw framing: one message per input line (empty lines skipped), each waiting for its reply. */
async function sendOneAtATime(
  session: Session,
  input: Input,
  stopped: Promise<unknown>,
  track: ((text: string) => void) | undefined,
): Promise<void> {
  const splitter = new LineDeframer(UNLIMITED);
  const lines: string[] = [];
  const sendLines = async () => {
    for (const line of lines.splice(0)) {
      // An empty message is no bytes at all in raw framing: nothing to send, no reply to wait for.
      if (line === "") continue;
      track?.(line);
      session.sendFramed(line, 1);
      await Promise.race([session.whenAllAcknowledged(), stopped]);
      if (session.hasFailed) return;
    }
  };
  for await (const chunk of readUntil(input, stopped)) {
    splitter.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength), (line) => lines.push(line));
    await sendLines();
    if (session.hasFailed) return;
  }
  const rest = splitter.takeRest();
  if (rest !== undefined) lines.push(rest);
  await sendLines();
}

/** Reads a stream until it ends or `stopped` settles (then the stream is cancelled). */
async function* readUntil(input: Input, stopped: Promise<unknown>): AsyncGenerator<Uint8Array> {
  if (input instanceof Uint8Array) {
    yield input;
    return;
  }
  const reader = input.getReader();
  const stop = stopped.then(() => undefined);
  try {
    while (true) {
      const result = await Promise.race([reader.read(), stop]);
      if (result === undefined || result.done) return;
      yield result.value;
    }
  } finally {
    void reader.cancel().catch(() => {});
  }
}
