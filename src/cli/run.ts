// Runs a citty command the way a Unix tool should behave: --help and --version anywhere, unknown
// flags and bad values are usage errors (exit 2, one line, a hint), and the command's own result
// is the process's exit code. citty's runMain exits 1 on a usage error and ignores unknown flags.
import type { CommandDef, ParsedArgs } from "citty";
import { flushLogs } from "../output/logger.ts";
import { printAndExit } from "../output/sink.ts";
import { UsageError } from "./args.ts";
import { ExitCode } from "./exit-codes.ts";
import { parseFlags } from "./flags.ts";
import { type HelpedCommand, type HelpPage, renderHelp } from "./help.ts";
import { isTerminal } from "./terminal.ts";

// citty's CommandDef is invariant in its args; the runner only needs the untyped shape.
// biome-ignore lint/suspicious/noExplicitAny: CommandDef<ArgsDef> would not accept a command with its own args.
type AnyCommand = CommandDef<any>;

export async function runCli(command: AnyCommand, rawArgs = process.argv.slice(2)): Promise<never> {
  const [target, targetArgs, parent] = await pickSubCommand(command, rawArgs);
  const flags = parseFlags(targetArgs, (await resolve(target.args)) ?? {});
  if (flags.help) {
    // Colour for a person at a terminal only: never into a pipe, a file or a pager, and never
    // when NO_COLOR is set (https://no-color.org: any value but the empty string).
    const colour = (await isTerminal("stdout")) && !process.env.NO_COLOR;
    await printAndExit(renderHelp(await helpPage(target, parent), { colour }));
  }
  if (flags.version) {
    const meta = await resolve(command.meta);
    await printAndExit(`${meta?.version ?? "unknown"}`);
  }
  let exitCode: unknown;
  try {
    if (flags.problem) throw new UsageError(flags.problem);
    // citty's type has no room for a flag left undefined (no default, not given); run() expects that.
    const args = { _: [], ...flags.values } as unknown as ParsedArgs;
    exitCode = await target.run?.({ rawArgs: targetArgs, args, cmd: target });
  } catch (error) {
    if (error instanceof UsageError) {
      const meta = await resolve(target.meta);
      process.stderr.write(`${meta?.name ?? "error"}: ${error.message}\n`);
      process.stderr.write(`Run with --help for usage.\n`);
      process.exit(ExitCode.usage);
    }
    await flushLogs();
    throw error;
  }
  await flushLogs();
  process.exit(typeof exitCode === "number" ? exitCode : 0);
}

async function pickSubCommand(
  command: AnyCommand,
  rawArgs: string[],
): Promise<[AnyCommand, string[], AnyCommand | undefined]> {
  const subCommands = await resolve(command.subCommands);
  const first = rawArgs[0];
  if (subCommands && first !== undefined && first in subCommands) {
    const sub = (await resolve(subCommands[first])) as AnyCommand;
    return [sub, rawArgs.slice(1), command];
  }
  return [command, rawArgs, undefined];
}

async function helpPage(command: AnyCommand, parent: AnyCommand | undefined): Promise<HelpPage> {
  const meta = await resolve(command.meta);
  const parentName = parent ? `${(await resolve(parent.meta))?.name} ` : "";
  const subCommands = Object.entries((await resolve(command.subCommands)) ?? {});
  return {
    name: parentName + (meta?.name ?? ""),
    description: meta?.description ?? "",
    args: (await resolve(command.args)) ?? {},
    subCommands: await Promise.all(
      subCommands.map(async ([name, sub]) => ({
        name,
        description: (await resolve((await resolve(sub))?.meta))?.description ?? "",
      })),
    ),
    help: (command as HelpedCommand).help,
  };
}

async function resolve<T>(value: T | (() => T) | (() => Promise<T>) | Promise<T> | undefined): Promise<T | undefined> {
  return typeof value === "function" ? await (value as () => T | Promise<T>)() : await value;
}
