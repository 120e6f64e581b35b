// Text from a process's output or a socket, collected as it arrives, with waits for what a test
// or script expects to see in it.
import { DEADLINE_MS } from "./wait.ts";

/**
 * Collects text, line by line, and lets a test wait for it: from a stream (a process's stdout),
 * or fed through append() and finish() (a socket).
 */
export class TextCollector {
  text = "";
  private waiters: Array<{ test: (text: string) => boolean; resolve: () => void }> = [];
  readonly done: Promise<void>;
  private markDone!: () => void;

  constructor(stream?: ReadableStream<Uint8Array>) {
    this.done = new Promise((resolve) => (this.markDone = resolve));
    if (stream) void this.readAll(stream);
  }

  append(text: string): void {
    this.text += text;
    this.waiters = this.waiters.filter((waiter) => {
      if (!waiter.test(this.text)) return true;
      waiter.resolve();
      return false;
    });
  }

  /** No more text will come. */
  finish(): void {
    this.markDone();
  }

  /** Waits until `count` complete lines have arrived. */
  waitForLines(count: number, deadlineMs = DEADLINE_MS): Promise<unknown> {
    let seen = 0;
    let searchFrom = 0;
    return this.waitFor((text) => {
      // Counted incrementally: the text can be megabytes long and grows one chunk at a time.
      for (let lf = text.indexOf("\n", searchFrom); lf !== -1; lf = text.indexOf("\n", lf + 1)) {
        seen++;
        searchFrom = lf + 1;
      }
      return seen >= count;
    }, deadlineMs);
  }

  /** How many times `pattern` (a global regular expression) occurs in the text so far. */
  count(pattern: RegExp): number {
    return this.text.match(pattern)?.length ?? 0;
  }

  get lines(): string[] {
    return this.text.split("\n").filter((line, i, all) => line !== "" || i < all.length - 1);
  }

  /**
   * Resolves when the text so far contains `pattern` (a string, a regular expression, or a test of
   * the whole text); rejects after the deadline, or at the end of the text, with what it has.
   */
  async waitFor(
    pattern: RegExp | string | ((text: string) => boolean),
    deadlineMs = DEADLINE_MS,
  ): Promise<RegExpMatchArray> {
    const test = (text: string) =>
      typeof pattern === "string"
        ? text.includes(pattern)
        : typeof pattern === "function"
          ? pattern(text)
          : pattern.test(text);
    if (!test(this.text)) {
      const { promise, resolve, reject } = Promise.withResolvers<void>();
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for ${pattern}; have:\n${this.tail}`)),
        deadlineMs,
      );
      this.waiters.push({ test, resolve });
      const ended = this.done.then(() => {
        if (!test(this.text)) throw new Error(`ended without ${pattern}; have:\n${this.tail}`);
      });
      ended.catch(() => {}); // Settled by the race below; a later end must not count as unhandled.
      try {
        await Promise.race([promise, ended]);
      } finally {
        clearTimeout(timer);
      }
    }
    const match = pattern instanceof RegExp ? this.text.match(pattern) : [this.text];
    return match as RegExpMatchArray;
  }

  /** The end of the text, for error messages. */
  private get tail(): string {
    return this.text.length <= 2000 ? this.text : `...${this.text.slice(-2000)}`;
  }

  private async readAll(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of stream) this.append(decoder.decode(chunk, { stream: true }));
    } finally {
      this.finish();
    }
  }
}
