// --help, rendered here rather than by citty (whose usage puts every flag in one right-aligned
// column and runs past 120 columns): a usage line, a one-line description, the flags in groups
// with their descriptions wrapped beside them, examples, and exit codes, in 80 columns like a
// Unix tool's. citty still defines and parses the commands; this file only reads their args.
// It must stay light: `--help` loads it, and nothing of the programs themselves.
import type { ArgDef } from "citty";
import type { ExitCodeTable } from "./exit-code-help.ts";

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
  /** The client and bench: --tls and the flags that go with it. */
  tls: "TLS",
  input: "INPUT",
  load: "LOAD",
  /** The server: who may connect (--allow, --deny) and the PROXY protocol. */
  access: "ACCESS",
  limits: "LIMITS",
  shutdown: "SHUTDOWN",
  output: "OUTPUT",
  metrics: "METRICS",
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

type Paint = (style: keyof typeof STYLES, text: string) => string;

/** The screen, without its last line end. */
export function renderHelp(page: HelpPage, { colour }: { colour: boolean }): string {
  const paint: Paint = (style, text) => (colour ? STYLES[style] + text + RESET : text);
  const sections = [usage(page, paint), optionGroups(page, paint), commands(page, paint), examples(page, paint)];
  if (page.help?.exitCodes) sections.push(exitCodes(page.help.exitCodes, paint));
  const lines = sections
    .filter((section) => section.length > 0)
    .flatMap((section, i) => (i > 0 ? ["", ...section] : section));
  return lines.map((line) => line.trimEnd()).join("\n");
}

function usage(page: HelpPage, paint: Paint): string[] {
  const forms = [`${page.name} [OPTIONS]`, ...page.subCommands.map((sub) => `${page.name} ${sub.name} [OPTIONS]`)];
  return [
    ...forms.map((form, i) => `${i === 0 ? paint("heading", "USAGE") : "     "} ${form}`),
    "",
    ...wrap(page.description, WIDTH),
  ];
}

/** Each group's heading and its flags; a flag without a group (none should be) goes last. */
function optionGroups(page: HelpPage, paint: Paint): string[] {
  const options = Object.entries(page.args)
    .filter(([, def]) => def.type !== "positional")
    .map(([name, def]) => ({ def, flag: flagText(name, def), text: describe(def) }));
  // Long flags line up under each other whether or not a short alias comes first (GNU style).
  const anyAlias = options.some(({ def }) => aliases(def).length > 0);
  for (const option of options) if (anyAlias && aliases(option.def).length === 0) option.flag = `    ${option.flag}`;
  const flagWidth = Math.max(0, ...options.map(({ flag }) => flag.length).filter((width) => width <= MAX_FLAG_WIDTH));
  const column = INDENT.length + flagWidth + GAP;

  const groups: Array<[HelpGroup | undefined, string]> = [
    ...(Object.entries(HELP_GROUPS) as Array<[HelpGroup, string]>),
    [undefined, "OPTIONS"],
  ];
  const lines: string[] = [];
  for (const [group, title] of groups) {
    const members = options.filter(({ def }) => def.group === group);
    if (members.length === 0) continue;
    if (lines.length > 0) lines.push("");
    lines.push(paint("heading", title));
    for (const { flag, text } of members) {
      const description = wrap(text, WIDTH - column);
      // A flag too wide for the column has its description start on the line below.
      if (flag.length > flagWidth) description.unshift("");
      const padding = " ".repeat(Math.max(0, column - INDENT.length - flag.length));
      lines.push(INDENT + paint("flag", flag) + padding + description[0]);
      lines.push(...description.slice(1).map((line) => " ".repeat(column) + line));
    }
  }
  return lines;
}

function commands(page: HelpPage, paint: Paint): string[] {
  if (page.subCommands.length === 0) return [];
  return [
    paint("heading", "COMMANDS"),
    ...table(page.subCommands.map((sub) => [sub.name, sub.description])),
    `${INDENT}Run '${page.name} <command> --help' for a command's own flags.`,
  ];
}

function examples(page: HelpPage, paint: Paint): string[] {
  const list = page.help?.examples ?? [];
  if (list.length === 0) return [];
  return [
    paint("heading", "EXAMPLES"),
    ...list.flatMap(({ does, command }, i) => [
      ...(i > 0 ? [""] : []),
      // As shell comments, so that the whole block can be pasted into a shell.
      ...wrap(does, WIDTH - INDENT.length - 2).map((line) => INDENT + paint("comment", `# ${line}`)),
      INDENT + command,
    ]),
  ];
}

function exitCodes(codes: ExitCodeTable, paint: Paint): string[] {
  const entries = Object.values(codes).sort((a, b) => a.code - b.code);
  return [paint("heading", "EXIT CODES"), ...table(entries.map(({ code, meaning }) => [String(code), meaning]))];
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
