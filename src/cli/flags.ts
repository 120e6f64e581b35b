// The command line against a command's flag definitions (citty's ArgsDef): the values its run()
// gets, and whether --help or --version was asked for. Ours, not citty's parser: citty's ignores
// an unknown flag (a typo would go unnoticed) and loads node:util for its parseArgs, which costs
// every start of a compiled binary ~3 ms, a third of a one-shot `client -m hi`.
import type { ArgsDef } from "citty";

export interface ParsedFlags {
  help: boolean;
  version: boolean;
  /** The first thing wrong, as a usage error says it (`unknown option '--prot'`). */
  problem?: string;
  /** Every defined flag by its name: what was given (the last, if repeated), else its default. */
  values: Record<string, string | boolean | undefined>;
  /** Every value given to each flag that takes one, in order (`-m a -m b`: message: [a, b]). */
  repeated: Record<string, string[]>;
}

type Kind = "boolean" | "value";

/**
 * Flags as Unix tools take them: `--name value`, `--name=value`, `-m value`, `-m=value`;
 * `--flag`, `--no-flag` and `--flag=false` for booleans; `--` ends the flags. A flag's value is
 * the next argument whatever it looks like (`-m -v` sends "-v"), so --help and --version count
 * only where they are flags.
 */
export function parseFlags(rawArgs: readonly string[], argsDef: ArgsDef): ParsedFlags {
  const byName = new Map<string, { name: string; kind: Kind; negated?: boolean }>();
  const values: ParsedFlags["values"] = {};
  for (const [name, def] of Object.entries(argsDef)) {
    if (def.type === "positional") continue;
    const kind: Kind = def.type === "boolean" ? "boolean" : "value";
    const aliases = [(def as { alias?: string | string[] }).alias ?? []].flat();
    for (const spelling of [name, ...aliases]) byName.set(spelling, { name, kind });
    if (kind === "boolean") byName.set(`no-${name}`, { name, kind, negated: true });
    values[name] = def.default as string | boolean | undefined;
  }
  const repeated: ParsedFlags["repeated"] = {};
  const take = (name: string, value: string) => {
    values[name] = value;
    const list = repeated[name];
    if (list) list.push(value);
    else repeated[name] = [value];
  };
  const parsed: ParsedFlags = { help: false, version: false, values, repeated };
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i]!;
    if (arg === "--") break;
    if (!arg.startsWith("-") || arg === "-") continue;
    if (arg === "--help" || arg === "-h") parsed.help = true;
    else if (arg === "--version" || arg === "-v") parsed.version = true;
    else {
      const [spelling, inlineValue] = arg.replace(/^--?/, "").split(/=(.*)/s, 2);
      const flag = byName.get(spelling!);
      if (!flag) parsed.problem ??= `unknown option '${arg.split("=")[0]}'`;
      else if (flag.kind === "boolean") values[flag.name] = flag.negated ? false : inlineValue !== "false";
      else if (inlineValue !== undefined) take(flag.name, inlineValue);
      else if (i + 1 < rawArgs.length) take(flag.name, rawArgs[++i]!);
      else parsed.problem ??= `option '${arg}' needs a value`;
    }
  }
  return parsed;
}

/**
 * Every value of a flag that may be given more than once (`-m a -m b`, `--listen A --listen B`),
 * read exactly as parseFlags reads the line: `--host -m x` gives --host the value `-m`, and no
 * message.
 */
export function repeatedValues(rawArgs: readonly string[], argsDef: ArgsDef, name: string): string[] {
  return parseFlags(rawArgs, argsDef).repeated[name] ?? [];
}
