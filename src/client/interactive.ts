// Interactive mode (stdin is a terminal): the tutorial's session, line for line, with line editing
// and history from node:readline. One message at a time: send, wait for the reply, print it.

import { ClientExit } from "../cli/exit-codes.ts";
import { escapeForTerminal } from "../output/escape.ts";
import { frameMessage } from "../protocol/framing.ts";
import type { Outcome } from "./outcome.ts";
import { Session, type SessionOptions } from "./session.ts";
import { connectingLine } from "./status.ts";

export const PROMPT = "Enter message (or 'quit' to exit): ";

export interface InteractiveIO {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** Status lines ([CONNECTING], [RESPONSE], ...). */
  say(text: string): void;
  /** Ctrl+C before the prompt exists (while connecting). */
  interrupted: Promise<void>;
}

type Step = { kind: "line"; text: string } | { kind: "eof" };
const INTERRUPTED = Symbol("interrupted");

export async function runInteractive(options: SessionOptions, io: InteractiveIO): Promise<Outcome> {
  io.say(connectingLine(options));
  const interruptedOutcome: Outcome = { exitCode: ClientExit.ok };
  const sayInterrupt = () => io.say("\n[INTERRUPT] Client shutting down...");

  let replies: string[] = [];
  let replyArrived: (() => void) | undefined;
  const session = new Session(options, {
    onAck(text) {
      replies.push(text);
      replyArrived?.();
    },
  });
  const notConnected = await Promise.race([
    session.connect(),
    io.interrupted.then((): typeof INTERRUPTED => INTERRUPTED),
  ]);
  if (notConnected === INTERRUPTED) {
    sayInterrupt();
    session.close();
    return interruptedOutcome;
  }
  if (notConnected) return notConnected;
  io.say("[CONNECTED] Connected to server");

  // Loaded here, not at the top: node:readline costs ~1.5 ms of startup that one-shot and
  // pipeline runs never use.
  const { createInterface } = await import("node:readline");
  const readline = createInterface({ input: io.input, output: io.output, terminal: true, historySize: 1000 });
  // One queue of what the user did, so that readline's events and our awaits never race.
  const steps: Step[] = [];
  let stepArrived: (() => void) | undefined;
  const push = (step: Step) => {
    steps.push(step);
    stepArrived?.();
  };
  readline.on("line", (text) => push({ kind: "line", text }));
  readline.on("close", () => push({ kind: "eof" }));
  // readline swallows Ctrl+C on a terminal unless we listen for it.
  const { promise: userInterrupt, resolve: interrupt } = Promise.withResolvers<typeof INTERRUPTED>();
  readline.on("SIGINT", () => interrupt(INTERRUPTED));
  void io.interrupted.then(() => interrupt(INTERRUPTED));
  /** Waits for `next`, unless the user presses Ctrl+C or the server fails us first. */
  const unlessStopped = <T>(next: Promise<T>) => Promise.race([next, userInterrupt, session.failure]);

  const nextStep = async (): Promise<Step | Outcome | typeof INTERRUPTED> => {
    while (steps.length === 0) {
      const arrived = new Promise<void>((resolve) => (stepArrived = resolve));
      const stopped = await unlessStopped(arrived);
      if (stopped !== undefined) return stopped;
    }
    return steps.shift()!;
  };

  try {
    while (true) {
      io.say("");
      readline.setPrompt(PROMPT);
      readline.prompt();
      const step = await nextStep();
      if (step === INTERRUPTED) {
        sayInterrupt();
        return interruptedOutcome;
      }
      if ("exitCode" in step) {
        // The server left while we sat at the prompt: finish the prompt's line first.
        io.say("");
        return step;
      }
      if (step.kind === "eof" || step.text.trim().toLowerCase() === "quit") {
        // Ctrl+D leaves the cursor after the prompt: finish that line first.
        if (step.kind === "eof") io.say("");
        io.say("[CLOSING] Closing connection by request...");
        return { exitCode: ClientExit.ok };
      }
      if (step.text === "") continue;

      replies = [];
      session.sendFramed(frameMessage(options.framing, step.text), 1);
      const reply = await unlessStopped(
        new Promise<string>((resolve) => {
          replyArrived = () => resolve(replies.shift()!);
          if (replies.length > 0) replyArrived();
        }),
      );
      replyArrived = undefined;
      if (reply === INTERRUPTED) {
        sayInterrupt();
        return interruptedOutcome;
      }
      if (typeof reply !== "string") return reply;
      // The reply echoes what was typed, but a server can send anything: never raw to the terminal.
      io.say(`[RESPONSE] ${escapeForTerminal(reply)}`);
    }
  } finally {
    readline.close();
    session.close();
  }
}
