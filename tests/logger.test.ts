// The logger's two formats, as the operator reads them on stderr.
import { expect, test } from "bun:test";
import { createLogger } from "../src/output/logger.ts";

function capture(format: "text" | "json", level: "info" | "debug") {
  const lines: string[] = [];
  const write = (line: string) => void lines.push(line);
  return { lines, logger: createLogger({ level, format, write, writeErrors: write }) };
}

test("text: the tutorial's line exactly, nothing added; every repeat is shown", () => {
  const { lines, logger } = capture("text", "info");
  for (let i = 0; i < 8; i++) logger.info("[ACTIVE CONNECTIONS] 1", { event: "active", active: 1 });
  expect(lines).toEqual(Array(8).fill("[ACTIVE CONNECTIONS] 1\n"));
});

test("text: --log-level debug shows an error's stack; info does not show debug lines", () => {
  const debug = capture("text", "debug");
  debug.logger.debug(new Error("boom"));
  expect(debug.lines.join("")).toMatch(/^Error: boom\n\s+at /);
  const info = capture("text", "info");
  info.logger.debug(new Error("boom"));
  expect(info.lines).toEqual([]);
});

test("json: one object per event with time, level, event fields and the text", () => {
  const { lines, logger } = capture("json", "info");
  logger.warn("[LIMIT] 127.0.0.1:5 idle", { event: "limit", peer: "127.0.0.1:5", limit: "idle" });
  const record = JSON.parse(lines[0]!);
  expect(record).toMatchObject({
    level: "warn",
    event: "limit",
    peer: "127.0.0.1:5",
    limit: "idle",
    text: "[LIMIT] 127.0.0.1:5 idle",
  });
  expect(Number.isNaN(Date.parse(record.time))).toBe(false);
});

test("json: a field with characters a terminal acts on is written escaped, and reads back the same", () => {
  const { lines, logger } = capture("json", "info");
  // As a client certificate's subject may be: a one-byte CSI (U+009B), a right-to-left override, DEL.
  const subject = "CN=evil\u009b2J\u202egnp.exe\u007f";
  logger.info(`[NEW CONNECTION] 127.0.0.1:5 connected (${subject}).`, { event: "connected", subject });
  expect(lines[0]).not.toMatch(/[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
  expect(lines[0]).toContain("\\u009b");
  expect(JSON.parse(lines[0]!)).toMatchObject({ event: "connected", subject });
});
