// The numbers a user types on the command line (src/cli/args.ts): what each parser accepts, what it
// makes of it, and the one plain sentence it answers a bad value with (a UsageError: exit code 2).
import { describe, expect, test } from "bun:test";
import {
  parseBytes,
  parseHostPort,
  parseInteger,
  parseOctalMode,
  parsePort,
  parseSeconds,
  UsageError,
} from "../src/cli/args.ts";

/** The error a parser throws for `value`, or a failure if it accepts it. */
function refusal(parse: () => unknown): UsageError {
  try {
    parse();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return error as UsageError;
  }
  throw new Error("the value was accepted");
}

describe("parsePort", () => {
  test.each([
    ["1", false, 1],
    ["12345", false, 12345],
    ["65535", false, 65535],
    ["0", true, 0],
    [" 8080 ", false, 8080],
  ])("%j (port 0 allowed: %p) is %p", (value, allowZero, port) => {
    expect(parsePort(value, { allowZero })).toBe(port);
  });

  test.each([
    ["0", false, "--port must be between 1 and 65535, got 0"],
    ["65536", true, "--port must be between 0 and 65535, got 65536"],
    ["99999999", false, "--port must be between 1 and 65535, got 99999999"],
    ["-1", true, "--port must be a whole number, got '-1'"],
    ["80.5", false, "--port must be a whole number, got '80.5'"],
    ["0x50", false, "--port must be a whole number, got '0x50'"],
    ["http", false, "--port must be a whole number, got 'http'"],
    ["", false, "--port must be a whole number, got ''"],
  ])("%j (port 0 allowed: %p) is refused: %s", (value, allowZero, message) => {
    expect(refusal(() => parsePort(value, { allowZero })).message).toBe(message);
  });
});

describe("parseInteger", () => {
  test.each([
    ["0", 0, 0],
    ["7", 0, 7],
    ["10000", 1, 10000],
    ["1", 1, 1],
    ["007", 0, 7],
    [String(Number.MAX_SAFE_INTEGER), 0, Number.MAX_SAFE_INTEGER],
  ])("%j (at least %p) is %p", (value, min, number) => {
    expect(parseInteger("count", value, min)).toBe(number);
  });

  test.each([
    ["0", 1, "--count must be at least 1, got 0"],
    ["-3", 0, "--count must be a whole number, got '-3'"],
    ["+3", 0, "--count must be a whole number, got '+3'"],
    ["1e3", 0, "--count must be a whole number, got '1e3'"],
    ["2.0", 0, "--count must be a whole number, got '2.0'"],
    ["ten", 0, "--count must be a whole number, got 'ten'"],
    ["", 0, "--count must be a whole number, got ''"],
    ["   ", 0, "--count must be a whole number, got '   '"],
  ])("%j (at least %p) is refused: %s", (value, min, message) => {
    expect(refusal(() => parseInteger("count", value, min)).message).toBe(message);
  });

  test("a number too large to count exactly is refused, naming the flag and the value", () => {
    const value = "9007199254740993"; // 2^53 + 1: a double cannot hold it.
    const { message } = refusal(() => parseInteger("count", value, 1));
    // Not "at least 1", which is true of it.
    expect(message).toBe(`--count is too large (at most ${Number.MAX_SAFE_INTEGER}), got ${value}`);
  });
});

describe("parseSeconds (to milliseconds)", () => {
  test.each([
    ["0", 0],
    ["5", 5000],
    ["0.3", 300],
    ["1.5", 1500],
    ["0.0004", 0],
    ["0.0006", 1],
    [" 2 ", 2000],
    ["1e3", 1_000_000],
    // The longest a timer can wait: 2^31-1 ms, a little under 24.9 days.
    ["2147483", 2_147_483_000],
  ])("%j seconds is %p ms", (value, ms) => {
    expect(parseSeconds("idle-timeout", value)).toBe(ms);
  });

  test.each([
    ["-1", "--idle-timeout must be a number of seconds (0 or more), got '-1'"],
    ["", "--idle-timeout must be a number of seconds (0 or more), got ''"],
    [" ", "--idle-timeout must be a number of seconds (0 or more), got ' '"],
    ["soon", "--idle-timeout must be a number of seconds (0 or more), got 'soon'"],
    ["5s", "--idle-timeout must be a number of seconds (0 or more), got '5s'"],
    ["Infinity", "--idle-timeout must be a number of seconds (0 or more), got 'Infinity'"],
    ["NaN", "--idle-timeout must be a number of seconds (0 or more), got 'NaN'"],
    // Past 2^31-1 ms a timer fires at once: refused rather than silently "now".
    ["2147484", "--idle-timeout must be at most 2147483 seconds, got 2147484"],
    ["1e10", "--idle-timeout must be at most 2147483 seconds, got 1e10"],
  ])("%j is refused: %s", (value, message) => {
    expect(refusal(() => parseSeconds("idle-timeout", value)).message).toBe(message);
  });
});

describe("parseBytes (powers of 1024)", () => {
  test.each([
    ["1", 1],
    ["65536", 65536],
    ["64k", 64 * 1024],
    ["64K", 64 * 1024],
    ["64kb", 64 * 1024],
    ["64KiB", 64 * 1024],
    ["64 k", 64 * 1024],
    ["1m", 1024 ** 2],
    ["1MiB", 1024 ** 2],
    ["16mb", 16 * 1024 ** 2],
    ["2g", 2 * 1024 ** 3],
    [" 3k ", 3 * 1024],
  ])("%j is %p bytes", (value, bytes) => {
    expect(parseBytes("max-output-bytes", value)).toBe(bytes);
  });

  test("0 passes where the flag allows it", () => {
    expect(parseBytes("max-output-bytes", "0", 0)).toBe(0);
  });

  test.each([
    ["0", "--max-message-bytes must be at least 1 bytes, got 0"],
    ["0k", "--max-message-bytes must be at least 1 bytes, got 0k"],
    ["1.5m", "--max-message-bytes must be a size in bytes (like 65536, 64k or 1m), got '1.5m'"],
    ["-1", "--max-message-bytes must be a size in bytes (like 65536, 64k or 1m), got '-1'"],
    ["k", "--max-message-bytes must be a size in bytes (like 65536, 64k or 1m), got 'k'"],
    ["1t", "--max-message-bytes must be a size in bytes (like 65536, 64k or 1m), got '1t'"],
    ["1kk", "--max-message-bytes must be a size in bytes (like 65536, 64k or 1m), got '1kk'"],
    ["", "--max-message-bytes must be a size in bytes (like 65536, 64k or 1m), got ''"],
  ])("%j is refused: %s", (value, message) => {
    expect(refusal(() => parseBytes("max-message-bytes", value)).message).toBe(message);
  });

  test("a size too large to count exactly is refused, naming the flag and the value", () => {
    const { message } = refusal(() => parseBytes("max-message-bytes", "9007199254740993g"));
    expect(message).toStartWith("--max-message-bytes must be");
    expect(message).toContain("9007199254740993g");
  });
});

describe("parseHostPort", () => {
  test.each([
    ["127.0.0.1:9100", "127.0.0.1", 9100],
    ["localhost:0", "localhost", 0],
    ["0.0.0.0:65535", "0.0.0.0", 65535],
    ["[::1]:9100", "::1", 9100],
    ["[::]:0", "::", 0],
    ["[fe80::1%lo]:9100", "fe80::1%lo", 9100],
  ])("%j is host %j, port %p", (value, host, port) => {
    expect(parseHostPort("metrics", value)).toEqual({ host, port });
  });

  test.each(["::1:9100", "127.0.0.1", "[::1]", "127.0.0.1:99999", "host:port", "[]:9100", "a b:1"])(
    "%j is refused, naming the flag and the two forms",
    (value) => {
      expect(refusal(() => parseHostPort("metrics", value)).message).toBe(
        `--metrics must be HOST:PORT or [IPV6]:PORT with a port from 0 to 65535, got '${value}'`,
      );
    },
  );
});

describe("parseOctalMode (--unix-mode)", () => {
  test.each([
    ["660", 0o660],
    ["0660", 0o660],
    ["00660", 0o660],
    ["0o660", 0o660],
    ["0o0660", 0o660],
    ["0", 0],
    ["777", 0o777],
  ])("%j is %o", (value, mode) => {
    expect(parseOctalMode("unix-mode", value)).toBe(mode);
  });

  // Setuid, setgid and sticky mean nothing on a socket file; 8 and 9 are not octal.
  test.each(["4755", "1777", "0o4755", "999", "rw-rw----", ""])("%j is refused", (value) => {
    expect(refusal(() => parseOctalMode("unix-mode", value)).message).toStartWith(
      "--unix-mode must be an octal file mode from 000 to 777",
    );
  });
});
