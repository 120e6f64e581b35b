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
