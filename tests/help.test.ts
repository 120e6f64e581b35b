// --help as a user reads it: the three screens from real processes, piped (as into a pager or a
// file) and on a pseudo-terminal. They fit 80 columns, list their flags in groups with the
// library's own defaults, show examples that use only flags the screen lists, and the exit codes.
import { beforeAll, describe, expect, test } from "bun:test";
import { BENCH_DEFAULTS } from "../src/bench/defaults.ts";
import { parseBytes, parseOctalMode, parseSeconds } from "../src/cli/args.ts";
import { CLIENT_DEFAULTS } from "../src/client/options.ts";
import { SERVER_DEFAULTS } from "../src/server/options.ts";
import { DEFAULT_WORKERS } from "../src/server/workers/count.ts";
import { CHILD_ENV, type Program, runProgram, SOURCE_CLIENT, SOURCE_SERVER } from "./helpers/processes.ts";
import { TerminalSession } from "./helpers/terminal.ts";

/** The environment of a user who has not asked for plain output: colour is up to the program. */
const { NO_COLOR: _, FORCE_COLOR: __, ...COLOUR_ENV } = CHILD_ENV;

/** How a shown default reads back: as the flag itself would parse it. */
const text = (shown: string) => shown;
const number = (shown: string) => Number(shown);
const bytes = (shown: string) => parseBytes("default", shown);
const ms = (shown: string) => parseSeconds("default", shown);
const octal = (shown: string) => parseOctalMode("default", shown);
type Defaults = Record<string, [read: (shown: string) => string | number, expected: string | number]>;

interface Screen {
  name: string;
  program: Program;
  args: string[];
  groups: string[];
  /** Every flag that shows a default, and the value it must stand for. */
  defaults: Defaults;
  exitCodes: number[];
  /** A word the --host description must use: the server listens, the client connects. */
  hostWording: RegExp;
}

const SCREENS: Screen[] = [
  {
    name: "server",
    program: SOURCE_SERVER,
    args: ["--help"],
    groups: ["LISTENING", "ACCESS", "LIMITS", "SHUTDOWN", "OUTPUT"],
    defaults: {
      "--host": [text, SERVER_DEFAULTS.host],
      "--port": [number, SERVER_DEFAULTS.port],
      "--framing": [text, SERVER_DEFAULTS.framing],
      "--max-connections": [number, SERVER_DEFAULTS.limits.maxConnections],
      "--max-connections-per-address": [number, SERVER_DEFAULTS.limits.maxConnectionsPerAddress],
      "--max-message-bytes": [bytes, SERVER_DEFAULTS.limits.maxMessageBytes],
      "--idle-timeout": [ms, SERVER_DEFAULTS.limits.idleTimeoutMs],
      "--max-output-bytes": [bytes, SERVER_DEFAULTS.limits.maxOutputBytes],
      "--drain-timeout": [ms, SERVER_DEFAULTS.drainTimeoutMs],
      "--close-timeout": [ms, SERVER_DEFAULTS.closeTimeoutMs],
      "--tls-handshake-timeout": [ms, SERVER_DEFAULTS.tlsHandshakeTimeoutMs],
      "--unix-mode": [octal, SERVER_DEFAULTS.unixMode],
      "--proxy-header-timeout": [ms, SERVER_DEFAULTS.proxyHeaderTimeoutMs],
      "--workers": [number, DEFAULT_WORKERS],
      "--log-level": [text, "info"],
    },
    exitCodes: [0, 1, 2, 130],
    hostWording: /^Address to listen on/,
  },
  {
    name: "client",
    program: SOURCE_CLIENT,
    args: ["--help"],
    groups: ["CONNECTION", "TLS", "INPUT", "OUTPUT", "COMMANDS"],
    defaults: {
      "--host": [text, CLIENT_DEFAULTS.host],
      "--port": [number, CLIENT_DEFAULTS.port],
      "--framing": [text, CLIENT_DEFAULTS.framing],
      "--timeout": [ms, CLIENT_DEFAULTS.connectTimeoutMs],
      "--response-timeout": [ms, CLIENT_DEFAULTS.responseTimeoutMs],
      "--reconnect-for": [ms, CLIENT_DEFAULTS.reconnectForMs],
      "--resend-buffer": [bytes, CLIENT_DEFAULTS.resendBufferBytes],
      "--log-level": [text, "info"],
    },
    exitCodes: [0, 1, 2, 3, 4, 5, 6, 130, 141],
    hostWording: /^Server to connect to/,
  },
  {
    name: "client bench",
    program: SOURCE_CLIENT,
    args: ["bench", "--help"],
    groups: ["CONNECTION", "TLS", "LOAD", "OUTPUT"],
    defaults: {
      "--host": [text, BENCH_DEFAULTS.host],
      "--port": [number, BENCH_DEFAULTS.port],
      "--framing": [text, BENCH_DEFAULTS.framing],
      "--timeout": [ms, BENCH_DEFAULTS.connectTimeoutMs],
      "--response-timeout": [ms, BENCH_DEFAULTS.responseTimeoutMs],
      "--connections": [number, BENCH_DEFAULTS.connections],
      "--duration": [ms, BENCH_DEFAULTS.durationMs],
      "--pipeline": [number, BENCH_DEFAULTS.pipeline],
      "--message": [text, BENCH_DEFAULTS.message],
    },
    exitCodes: [0, 1, 2, 130],
    hostWording: /^Server to connect to/,
  },
];

interface Page {
  stdout: string;
  sections: Map<string, string[]>;
  /** Each flag in the option groups, long and short (`--message`, `-m`), and its description. */
  flags: Map<string, string>;
}

/** The screen cut into its sections: heading (a line at column 0) -> the lines under it. */
function sectionsOf(stdout: string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  let current: string[] = [];
  for (const line of stdout.split("\n")) {
    if (/^[A-Z][A-Z ]+$/.test(line)) {
      current = [];
      found.set(line, current);
    } else current.push(line);
  }
  return found;
}

function flagsOf(sections: Map<string, string[]>, groups: string[]): Map<string, string> {
  const found = new Map<string, string>();
  let names: string[] = [];
  for (const group of groups.filter((name) => name !== "COMMANDS")) {
    for (const line of sections.get(group) ?? []) {
      // `  --host HOST  Text`, `  -m, --message TEXT  Text`, `      --json  Text` (beside an alias).
      const start = /^ {2}(?:(-\w), | {4})?(--[\w-]+)(?: \S+)?(?: {2,}(.*))?$/.exec(line);
      if (start) names = [start[1], start[2]!].filter((name) => name !== undefined);
      const more = start ? (start[3] ?? "") : line.trim();
      for (const name of names) found.set(name, `${found.get(name) ?? ""} ${more}`.trim());
    }
  }
  return found;
}

const pages = new Map<string, Page>();

beforeAll(async () => {
  for (const screen of SCREENS) {
    // NO_COLOR is not set: plain text here is the program's own choice for a pipe.
    const result = await runProgram(screen.program, screen.args, { env: COLOUR_ENV });
    expect({ exitCode: result.exitCode, stderr: result.stderr }).toEqual({ exitCode: 0, stderr: "" });
    const sections = sectionsOf(result.stdout);
    pages.set(screen.name, { stdout: result.stdout, sections, flags: flagsOf(sections, screen.groups) });
  }
});

describe.each(SCREENS)("$name --help, piped", (screen) => {
  const page = () => pages.get(screen.name)!;

  test("every line fits in 80 columns, with no escape codes", () => {
    const tooWide = page()
      .stdout.split("\n")
      .filter((line) => line.length > 80);
    expect(tooWide).toEqual([]);
    expect(page().stdout).not.toContain("\x1b");
  });

  test("a usage line, then a one-line description", () => {
    const lines = page().stdout.split("\n");
    expect(lines[0]).toBe(`USAGE ${screen.name} [OPTIONS]`);
    const at = lines.findIndex((line, i) => i > 0 && /^\S/.test(line));
    expect(lines[at - 1]).toBe("");
    expect(lines[at + 1]).toBe("");
  });

  test("the option groups, each with flags, and the program's own wording for --host", () => {
    for (const group of screen.groups) {
      const entries =
        page()
          .sections.get(group)
          ?.filter((line) => /^ {2}(?: {4})?\S/.test(line)).length ?? 0;
      expect({ group, listsSomething: entries > 0 }).toEqual({ group, listsSomething: true });
    }
    expect(page().flags.get("--host")).toMatch(screen.hostWording);
  });

  test("every default shown is the library's own (read back as the flag would read it)", () => {
    const shown = new Map<string, string>();
    for (const [flag, description] of page().flags) {
      const match = /\(default: ([^)]+)\)$/.exec(description);
      if (match && flag.startsWith("--")) shown.set(flag, match[1]!);
    }
    expect([...shown.keys()].sort()).toEqual(Object.keys(screen.defaults).sort());
    for (const [flag, [read, expected]] of Object.entries(screen.defaults))
      expect({ flag, value: read(shown.get(flag)!) }).toEqual({ flag, value: expected });
  });

  test("EXAMPLES: three or four commands, each using only flags its program lists", () => {
    const commands = (page().sections.get("EXAMPLES") ?? [])
      .map((line) => line.trim())
      .filter((line) => line !== "" && !line.startsWith("#"));
    expect(commands.length).toBeGreaterThanOrEqual(3);
    expect(commands.length).toBeLessThanOrEqual(4);
    for (const command of commands) {
      for (const segment of command.split("|").map((part) => part.trim())) {
        // `client bench ...` in the client's examples is checked against the bench's flags.
        const program = SCREENS.map(({ name }) => name)
          .filter((name) => segment === name || segment.startsWith(`${name} `))
          .sort((a, b) => b.length - a.length)[0];
        if (!program) continue;
        const used = segment
          .slice(program.length)
          .split(/\s+/)
          .filter((word) => word.startsWith("-"));
        for (const flag of used)
          expect({ command, flag, listed: pages.get(program)!.flags.has(flag) }).toEqual({
            command,
            flag,
            listed: true,
          });
      }
    }
  });

  test("EXIT CODES lists the program's codes in order", () => {
    const codes = (page().sections.get("EXIT CODES") ?? []).flatMap((line) => {
      const code = /^ {2}(\d+) /.exec(line)?.[1];
      return code === undefined ? [] : [Number(code)];
    });
    expect(codes).toEqual(screen.exitCodes);
  });
});

describe("--help on a terminal", () => {
  const show = async (env: Record<string, string | undefined>) => {
    const terminal = TerminalSession.start(SOURCE_CLIENT, ["--help"], { env: env as Record<string, string> });
    try {
      expect(await terminal.exited()).toBe(0);
      return { screen: terminal.screen, output: terminal.output.text };
    } finally {
      await terminal.close();
    }
  };

  test("is in colour", async () => {
    const { screen, output } = await show(COLOUR_ENV);
    expect(screen[0]).toBe("USAGE client [OPTIONS]");
    expect(screen).toContain("EXIT CODES");
    expect(output).toContain("\x1b[");
  });

  test("is plain with NO_COLOR=1", async () => {
    const { screen, output } = await show({ ...COLOUR_ENV, NO_COLOR: "1" });
    expect(screen[0]).toBe("USAGE client [OPTIONS]");
    expect(screen).toContain("EXIT CODES");
    expect(output).not.toContain("\x1b");
  });
});
