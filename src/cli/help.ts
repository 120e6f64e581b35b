// --help, rendered here rather than by citty (whose usage puts every flag in one right-aligned
// column and runs past 120 columns): a usage line, a one-line description, the flags in groups
// with their descriptions wrapped beside them, examples, and exit codes, in 80 columns like a
// Unix tool's. citty still defines and parses the commands; this file only reads their args.
// It must stay light: `--help` loads it, and nothing of the programs themselves.
import type { ArgDef } from "citty";
import type { ExitCodeTable } from "./exit-codes.ts";

/**
 * The option groups, in the order --help lists them, with their headings. Every flag names its
 * group where it is defined, next to its description:
 *
 *   "max-connections": { type: "string", group: "limits", description: "...", default: "10000" },
 *
 * so a new flag (--listen, --workers, --reconnect, ...) is one entry in its command's args, and a
 * new kind of flag (TLS, access rules, metrics) one line here and then one entry per flag.
 */
export const HELP_GROUPS = {
  /** The server: where and how it listens. */
  listening: "LISTENING",
  /** The client and bench: where they connect, how, and how long they wait. */
  connection: "CONNECTION",
  input: "INPUT",
  load: "LOAD",
  limits: "LIMITS",
  shutdown: "SHUTDOWN",
  output: "OUTPUT",
} as const;

export type HelpGroup = keyof typeof HELP_GROUPS;

/** citty's flag definition, plus the group --help lists it in. */
export type HelpArgDef = ArgDef & { group: HelpGroup };
export type HelpArgsDef = Record<string, HelpArgDef>;

export interface Example {
  /** What it does, one sentence: shown as a shell comment above the command. */
  does: string;
  command: string;
}

/** What --help shows besides the flags. */
export interface HelpExtras {
  examples: Example[];
  exitCodes?: ExitCodeTable;
}

/** A citty command, with what its --help shows besides the flags. */
export function withHelp<Command extends object>(command: Command, help: HelpExtras): Command & HelpedCommand {
  return Object.assign(command, { help });
}

export interface HelpedCommand {
  help?: HelpExtras;
}

/** Everything one help screen shows, resolved from the command (see run.ts). */
export interface HelpPage {
  /** As typed: `client bench` for a subcommand. */
  name: string;
  description: string;
  args: Record<string, ArgDef & { group?: HelpGroup }>;
  subCommands: Array<{ name: string; description: string }>;
  help?: HelpExtras;
}

const WIDTH = 80;
const INDENT = "  ";
/** Flags longer than this put their description on the next line, not beside them. */
const MAX_FLAG_WIDTH = 26;
const GAP = 2;

const STYLES = { heading: "\x1b[1m", flag: "\x1b[36m", comment: "\x1b[2m" } as const;
const RESET = "\x1b[0m";

export function renderHelp(page: HelpPage, { colour }: { colour: boolean }): string {
  const paint = (style: keyof typeof STYLES, text: string) => (colour ? STYLES[style] + text + RESET : text);
  const heading = (text: string) => paint("heading", text);
  const out: string[] = [];

  const usage = [`${page.name} [OPTIONS]`, ...page.subCommands.map((sub) => `${page.name} ${sub.name} [OPTIONS]`)];
  out.push(...usage.map((line, i) => `${i === 0 ? heading("USAGE") : "     "} ${line}`));
  out.push("", ...wrap(page.description, WIDTH));

  const options = Object.entries(page.args)
    .filter(([, def]) => def.type !== "positional")
    .map(([name, def]) => ({ def, flag: flagText(name, def), text: describe(def) }));
  // Long flags line up under each other whether or not a short alias comes first (GNU style).
  const anyAlias = options.some(({ def }) => aliases(def).length > 0);
  for (const option of options) if (anyAlias && aliases(option.def).length === 0) option.flag = `    ${option.flag}`;
  const flagWidth = Math.max(0, ...options.map(({ flag }) => flag.length).filter((width) => width <= MAX_FLAG_WIDTH));
  const column = INDENT.length + flagWidth + GAP;

  for (const [group, title] of Object.entries(HELP_GROUPS)) {
    const members = options.filter(({ def }) => (def.group ?? "output") === group);
    if (members.length === 0) continue;
    out.push("", heading(title));
    for (const { flag, text } of members) {
      const lines = wrap(text, WIDTH - column);
      if (flag.length > flagWidth) out.push(INDENT + paint("flag", flag));
      else
        out.push(
          `${INDENT + paint("flag", flag)}${" ".repeat(column - INDENT.length - flag.length)}${lines.shift() ?? ""}`,
        );
      out.push(...lines.map((line) => " ".repeat(column) + line));
    }
  }

  if (page.subCommands.length > 0) {
    out.push("", heading("COMMANDS"));
    out.push(...table(page.subCommands.map((sub) => [sub.name, sub.description])));
    out.push(`${INDENT}Run '${page.name} <command> --help' for a command's own flags.`);
  }

  if (page.help && page.help.examples.length > 0) {
    out.push("", heading("EXAMPLES"));
    page.help.examples.forEach(({ does, command }, i) => {
      if (i > 0) out.push("");
      out.push(...wrap(does, WIDTH - INDENT.length - 2).map((line) => INDENT + paint("comment", `# ${line}`)));
      out.push(INDENT + command);
    });
  }

  if (page.help?.exitCodes) {
    const entries = Object.values(page.help.exitCodes).sort((a, b) => a.code - b.code);
    out.push("", heading("EXIT CODES"), ...table(entries.map(({ code, meaning }) => [String(code), meaning])));
  }
  return `${out.map((line) => line.trimEnd()).join("\n")}\n`;
}

/** `-m, --message TEXT`, `--framing line|raw`, `--json`. */
function flagText(name: string, def: ArgDef): string {
  const names = [...aliases(def).map((alias) => `-${alias}`), `--${name}`].join(", ");
  if (def.type === "boolean") return names;
  const value = def.valueHint ?? (def.type === "enum" && def.options ? def.options.join("|") : name.toUpperCase());
  return `${names} ${value}`;
}

function aliases(def: ArgDef): string[] {
  return "alias" in def && def.alias !== undefined ? [def.alias].flat() : [];
}

/** The description, and the default where there is one (kept on one line: the NBSP). */
function describe(def: ArgDef): string {
  const shown = def.type === "boolean" || def.default === undefined || def.default === "" ? undefined : def.default;
  const text = def.description ?? "";
  return shown === undefined ? text : `${text} (default:\u00a0${shown})`;
}

/** Two columns: a short key and its text wrapped beside it. */
function table(rows: Array<[string, string]>): string[] {
  const keyWidth = Math.max(...rows.map(([key]) => key.length));
  const column = INDENT.length + keyWidth + GAP;
  return rows.flatMap(([key, text]) =>
    wrap(text, WIDTH - column).map(
      (line, i) => (i === 0 ? INDENT + key.padEnd(keyWidth + GAP) : " ".repeat(column)) + line,
    ),
  );
}

/** Greedy word wrap; a word longer than the width stays whole on its own line. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/ +/).filter(Boolean)) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  if (line !== "" || lines.length === 0) lines.push(line);
  return lines.map((wrapped) => wrapped.replaceAll("\u00a0", " "));
}
