// Waiting with a deadline, for the tests and the scripts that drive our programs from outside:
// every wait names what it waited for, so a failure says what was missing instead of hanging.

/** How long a test waits for something that should take milliseconds. */
export const DEADLINE_MS = 10_000;

/** How often `eventually` looks again: often enough not to slow a round trip down much. */
const POLL_MS = 10;

/** Settles as `promise` does, or rejects with "<what> within <ms> ms" at the deadline. */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: Timer | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls `test` until it holds; rejects at the deadline with `what` (a function is called then, so
 * it can show the state that did not come about).
 */
export async function eventually(
  test: () => boolean,
  deadlineMs: number = DEADLINE_MS,
  what: string | (() => string) = "condition not met",
): Promise<void> {
  const start = performance.now();
  while (!test()) {
    if (performance.now() - start > deadlineMs) {
      throw new Error(`${typeof what === "function" ? what() : what} within ${deadlineMs} ms`);
    }
    await Bun.sleep(POLL_MS);
  }
}
