// A program under a real pseudo-terminal (Bun.spawn with `terminal`), as a person would run it:
// keys go in through the terminal, and what comes out is rendered into the screen the person
// would see, so tests compare lines of text rather than escape sequences. readline redraws its
// prompt line with cursor moves and erases; the renderer applies the few it uses.
import type { Subprocess } from "bun";
import { CHILD_ENV, DEADLINE_MS, type Program, type SpawnOptions, TextCollector, withDeadline } from "./processes.ts";

export const KEYS = {
  enter: "\r",
  left: "\x1b[D",
  backspace: "\x7f",
  ctrlC: "\x03",
  ctrlD: "\x04",
} as const;

export class TerminalSession {
  /** Everything the program wrote to the terminal, escape sequences included. */
  readonly output = new TextCollector();
  private readonly decoder = new TextDecoder();

  private constructor(readonly proc: Subprocess) {}

  static start(program: Program, args: string[], options: Pick<SpawnOptions, "cwd" | "env"> = {}): TerminalSession {
    let session!: TerminalSession;
    const proc = Bun.spawn([...program, ...args], {
      cwd: options.cwd,
      env: options.env ?? CHILD_ENV,
      terminal: {
        // Wide enough that no line of these tests wraps.
        cols: 250,
        rows: 50,
        data: (_terminal, bytes) => session.output.append(session.decoder.decode(bytes, { stream: true })),
        exit: () => session.output.finish(),
      },
    });
    session = new TerminalSession(proc);
    return session;
  }

  /** Types keys, as a person at the keyboard (KEYS has the special ones). */
  type(keys: string): void {
    this.proc.terminal!.write(keys);
  }

  /** The screen's lines, as a person sees them. */
  get screen(): string[] {
    return renderScreen(this.output.text).lines;
  }

  /**
   * Waits until `check` holds for the screen's lines (and the cursor, where a test needs to know
   * that a key has been handled); rejects after the deadline, showing the screen.
   */
  async waitForScreen(
    check: (lines: string[], cursor: Cursor) => boolean,
    what: string,
    deadlineMs = DEADLINE_MS,
  ): Promise<void> {
    try {
      await this.output.waitFor(() => {
        const { lines, cursor } = renderScreen(this.output.text);
        return check(lines, cursor);
      }, deadlineMs);
    } catch {
      throw new Error(`timed out waiting for ${what}; the screen:\n${this.screen.join("\n")}`);
    }
  }

  /** Waits until the program shows its `count`-th `prompt`, empty, on the last line. */
  waitForPrompt(prompt: string, count: number): Promise<void> {
    return this.waitForScreen(
      (lines) => lines.at(-1) === prompt && lines.filter((line) => line.startsWith(prompt)).length === count,
      `prompt number ${count}`,
    );
  }

  /** Waits until the screen shows `line` as one of its lines. */
  waitForLine(line: string, deadlineMs = DEADLINE_MS): Promise<void> {
    return this.waitForScreen((lines) => lines.includes(line), JSON.stringify(line), deadlineMs);
  }

  /** Waits for the program to exit; returns its exit code. */
  async exited(deadlineMs = DEADLINE_MS): Promise<number> {
    const code = await withDeadline(this.proc.exited, deadlineMs, "the program did not exit");
    // Let the last output reach us before the terminal goes.
    await withDeadline(this.output.done, 1000, "the terminal did not close").catch(() => {});
    return code;
  }

  /** Kills the program if it still runs and closes the terminal. */
  async close(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill("SIGKILL");
    await this.proc.exited;
    this.proc.terminal?.close();
  }
}

/** Where the cursor is, counted from 0. */
export interface Cursor {
  row: number;
  col: number;
}

/**
 * Renders terminal output into screen lines: printable text, CR, LF, backspace, and the CSI
 * sequences readline uses (cursor to column, left/right/up/down, erase to end of line/screen).
 * Other sequences (colours, modes) are dropped. Trailing blank lines are left out.
 */
export function renderScreen(output: string): { lines: string[]; cursor: Cursor } {
  const rows: string[][] = [[]];
  let row = 0;
  let col = 0;
  const line = () => (rows[row] ??= []);
  const csi = /^\x1b\[([?0-9;]*)([@-~])/;
  for (let i = 0; i < output.length; ) {
    const char = String.fromCodePoint(output.codePointAt(i)!);
    if (char === "\x1b") {
      const match = csi.exec(output.slice(i, i + 32));
      if (!match) {
        i += 2; // ESC and one more character (ESC 7, ESC =, ...): nothing readline needs.
        continue;
      }
      const n = Number.parseInt(match[1]!, 10);
      const count = Number.isNaN(n) || n === 0 ? 1 : n;
      switch (match[2]) {
        case "G":
          col = count - 1;
          break;
        case "C":
          col += count;
          break;
        case "D":
          col = Math.max(0, col - count);
          break;
        case "A":
          row = Math.max(0, row - count);
          break;
        case "B":
          row += count;
          break;
        case "K":
          line().length = Math.min(line().length, col);
          break;
        case "J":
          line().length = Math.min(line().length, col);
          rows.length = row + 1;
          break;
      }
      i += match[0].length;
      continue;
    }
    i += char.length;
    if (char === "\r") col = 0;
    else if (char === "\n") row++;
    else if (char === "\b") col = Math.max(0, col - 1);
    else if (char === "\x07") continue;
    else line()[col++] = char;
  }
  const lines = Array.from({ length: rows.length }, (_, r) =>
    Array.from(rows[r] ?? [], (cell) => cell ?? " ").join(""),
  );
  while (lines.length > 0 && lines.at(-1) === "") lines.pop();
  return { lines, cursor: { row, col } };
}
