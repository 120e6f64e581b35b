// The rest of the one-shot (one-shot.ts): what it does not take itself, loaded only when needed.
// Once a reply is anything but whole ASCII ack lines, or the connection ends or falls behind, the
// connection is carried on in a ServerLink, and each reply is looked at as the whole program's
// session looks at it. The lines of every failure are made here too.
import type { Socket } from "bun";
import { ClientExit } from "../cli/exit-codes.ts";
import { decodeLines, splitLines } from "../protocol/framing.ts";
import { classifyReply, countAcks } from "../protocol/messages.ts";
import { isAscii, isUtf8 } from "../protocol/utf8.ts";
import { type LinkEvents, ServerLink } from "./link.ts";
import type { OneShotRun } from "./one-shot.ts";
import { linkEndOutcome, noticeOutcome, type Outcome, unexpectedReplyOutcome } from "./outcome.ts";

export { connectFailureOf } from "../net/connect.ts";
export { connectFailureOutcome, responseTimeoutOutcome } from "./outcome.ts";

/** The connection in a ServerLink: `events` are the socket's events, for the link. */
export interface TakenOver {
  link: ServerLink;
  events: LinkEvents;
}

/** Carries the one-shot's connection on, from its next event, as the whole program would. */
export function takeOver(socket: Socket<unknown>, run: OneShotRun): TakenOver {
  const { tally } = run;
  // As the session: the first failure counts, and replies after it are not looked at.
  let failure: Outcome | undefined;
  const replied = (text: string) => {
    if (failure) return;
    const reply = classifyReply(text);
    if (reply.kind === "notice") failure = noticeOutcome(reply.text, tally);
    else if (reply.kind !== "ack" || tally.sent === tally.acknowledged) failure = unexpectedReplyOutcome(text, tally);
    else {
      run.print(`${text}\n`);
      run.acknowledged(1);
    }
  };
  /** After each read: the run ends at a failure, or once nothing is owed. */
  const settleAfterRead = () => {
    if (failure) run.end(failure);
    else if (tally.acknowledged === tally.sent) run.end({ exitCode: ClientExit.ok });
  };
  return ServerLink.adopt(
    socket,
    { host: run.plan.host, framing: "line" },
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
          // (The writer copies what it cannot write at once: the read may be released after this.)
          run.print(isAscii(lines) || isUtf8(lines) ? lines : lines.toString("utf8"));
          run.acknowledged(count);
        }
        settleAfterRead();
      },
      ended(how) {
        if (!failure) failure = linkEndOutcome(how, tally);
        run.end(failure);
      },
    },
  );
}
