// Runs a citty command the way a Unix tool should behave: --help and --version anywhere, unknown
// flags and bad values are usage errors (exit 2, one line, a hint), and the command's own result
// is the process's exit code. citty's runMain exits 1 on a usage error and ignores unknown flags.
import { type ArgsDef, type CommandDef, runCommand } from "citty";
import { flushLogs } from "../output/logger.ts";
import { createLineSink } from "../output/sink.ts";
import { UsageError } from "./args.ts";
import { ExitCode } from "./exit-codes.ts";
import { type HelpedCommand, type HelpPage, renderHelp } from "./help.ts";
import { isTerminal } from "./terminal.ts";

// citty's CommandDef is invariant in its args; the runner only needs the untyped shape.
// biome-ignore lint/suspicious/noExplicitAny: CommandDef<ArgsDef> would not accept a command with its own args.
type AnyCommand = CommandDef<any>;

export async function runCli(command: AnyCommand, rawArgs = process.argv.slice(2)): Promise<never> {
  const [target, targetArgs, parent] = await pickSubCommand(command, rawArgs);
  const flags = scanFlags(targetArgs, (await resolve(target.args)) ?? {});
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
    // A subcommand is picked above, as the first argument only; citty must not pick another.
    if (target === command)
      ({ result: exitCode } = await runCommand({ ...command, subCommands: undefined }, { rawArgs }));
    else ({ result: exitCode } = await runCommand(target, { rawArgs: targetArgs }));
  } catch (error) {
    if (error instanceof UsageError || (error as Error)?.name === "CLIError") {
      const meta = await resolve(target.meta);
      process.stderr.write(`${meta?.name ?? "error"}: ${stripColors((error as Error).message)}\n`);
      process.stderr.write(`Run with --help for usage.\n`);
      process.exit(ExitCode.usage);
    }
    await flushLogs();
    throw error;
  }
  await flushLogs();
  process.exit(typeof exitCode === "number" ? exitCode : 0);
}

/**
 * Through Bun's writer, not process.stdout: creating that Node stream costs a compiled binary
 * ~8 ms, which would be most of `client --version` (see logger.ts for stderr).
 */
async function printAndExit(text: string): Promise<never> {
  const stdout = createLineSink("stdout");
  stdout.write(`${text}\n`);
  await stdout.flush();
  process.exit(0);
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

/**
 * Walks the arguments as flags and their values: finds --help and --version where they are flags
 * (`-m -v` sends "-v"), and the first flag the command does not define (citty would silently
 * ignore a typo) or that lacks its value.
 */
function scanFlags(rawArgs: string[], argsDef: ArgsDef): { help: boolean; version: boolean; problem?: string } {
  const known = new Map<string, "boolean" | "value">();
  for (const [name, def] of Object.entries(argsDef)) {
    if (def.type === "positional") continue;
    const kind = def.type === "boolean" ? "boolean" : "value";
    for (const alias of [name, ...[(def as { alias?: string | string[] }).alias ?? []].flat()]) known.set(alias, kind);
    if (kind === "boolean") known.set(`no-${name}`, kind);
  }
  const found: { help: boolean; version: boolean; problem?: string } = { help: false, version: false };
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i]!;
    if (arg === "--") break;
    if (!arg.startsWith("-") || arg === "-") continue;
    if (arg === "--help" || arg === "-h") found.help = true;
    else if (arg === "--version" || arg === "-v") found.version = true;
    else {
      const [name, inlineValue] = arg.replace(/^--?/, "").split(/=(.*)/s, 2);
      const kind = known.get(name!);
      if (!kind) found.problem ??= `unknown option '${arg.split("=")[0]}'`;
      // A value may itself start with a dash (-m -5): skip it.
      else if (kind === "value" && inlineValue === undefined) {
        if (i + 1 >= rawArgs.length) found.problem ??= `option '${arg}' needs a value`;
        i++;
      }
    }
  }
  return found;
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

function stripColors(text: string): string {
  return text.replace(/\x1b\[[0-9;]*m/g, "");
}
