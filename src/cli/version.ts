// `--version` where a start must stay small (client-entry.ts, multicall.ts): package.json's object
// is made only when this module is import()ed, not by every one-shot's start.
import pkg from "../../package.json" with { type: "json" };
import { printAndExit } from "../output/sink.ts";

export const VERSION = pkg.version;

export function printVersion(): Promise<never> {
  return printAndExit(VERSION);
}
