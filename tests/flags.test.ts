// The command line against a command's flags (src/cli/flags.ts): what each spelling gives the
// program, and the first thing wrong with it, which the programs print as a usage error (exit 2).
import { describe, expect, test } from "bun:test";
import type { ArgsDef } from "citty";
import { parseFlags, repeatedValues } from "../src/cli/flags.ts";

const DEFS = {
  port: { type: "string", default: "12345" },
  message: { type: "string", alias: "m" },
  json: { type: "boolean", default: false },
  "response-timeout": { type: "string", default: "60" },
  color: { type: "boolean", default: true },
} as const satisfies ArgsDef;

const DEFAULTS = { port: "12345", message: undefined, json: false, "response-timeout": "60", color: true };

describe("values", () => {
  test.each<[string[], Record<string, unknown>]>([
    [[], {}],
    [["--port", "80"], { port: "80" }],
    [["--port=80"], { port: "80" }],
    [["--port", "1", "--port", "2"], { port: "2" }],
    [["-m", "hi"], { message: "hi" }],
    [["-m=hi"], { message: "hi" }],
    [["--message", "a=b"], { message: "a=b" }],
    [["--message=a=b"], { message: "a=b" }],
    [["-m", "-v"], { message: "-v" }],
    [["-m", "--help"], { message: "--help" }],
    [["-m", ""], { message: "" }],
    [["--json"], { json: true }],
    [["--json=false"], { json: false }],
    [["--json=true"], { json: true }],
    [["--no-color"], { color: false }],
    [["--json", "--no-json"], { json: false }],
    [["--response-timeout", "0"], { "response-timeout": "0" }],
    [["--", "--port", "1"], {}],
    [["extra", "--json"], { json: true }],
    [["-"], {}],
  ])("%j", (args, changed) => {
    const parsed = parseFlags(args, DEFS);
    expect(parsed.problem).toBeUndefined();
    expect(parsed.values).toEqual({ ...DEFAULTS, ...changed });
  });
});

describe("--help and --version, where they are flags", () => {
  test.each<[string[], boolean, boolean]>([
    [["--help"], true, false],
    [["-h"], true, false],
    [["--port", "1", "-h"], true, false],
    [["--version"], false, true],
    [["-v"], false, true],
    [["-m", "-h"], false, false],
    [["-m", "--version"], false, false],
    [["--", "--help"], false, false],
  ])("%j: help %p, version %p", (args, help, version) => {
    const parsed = parseFlags(args, DEFS);
    expect([parsed.help, parsed.version]).toEqual([help, version]);
  });
});

describe("problems: the first one is told", () => {
  test.each<[string[], string]>([
    [["--prot", "1"], "unknown option '--prot'"],
    [["--prot=1"], "unknown option '--prot'"],
    [["-x"], "unknown option '-x'"],
    [["-mj", "hi"], "unknown option '-mj'"],
    [["--no-port"], "unknown option '--no-port'"],
    [["--port"], "option '--port' needs a value"],
    [["--json", "-m"], "option '-m' needs a value"],
    [["--nope", "--port"], "unknown option '--nope'"],
  ])("%j: %s", (args, problem) => {
    expect(parseFlags(args, DEFS).problem).toBe(problem);
  });

  test("a problem does not hide --help: help is still shown", () => {
    expect(parseFlags(["--prot", "--help"], DEFS)).toMatchObject({ help: true, problem: "unknown option '--prot'" });
  });
});

describe("repeated flags: every value, read as the flags are", () => {
  test.each<[string[], string[]]>([
    [
      ["-m", "a", "-m", "b", "--message=c", "-m=d"],
      ["a", "b", "c", "d"],
    ],
    [["-m", "-m"], ["-m"]],
    [["--port", "-m", "-m", "x"], ["x"]],
    [["-m", "a", "--", "-m", "b"], ["a"]],
    [["--json"], []],
  ])("%j: messages %j", (args, messages) => {
    expect(repeatedValues(args, DEFS, "message")).toEqual(messages);
  });
});
