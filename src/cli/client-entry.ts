// How the client starts, as `client` and as `socket-lab client`: a one-shot (`client -m TEXT`
// into a pipe) runs its small program; any other command line loads the whole one. That is an
// import()ed chunk (binaries are built with code splitting, scripts/compile.ts), so a one-shot
// never loads citty, the flag definitions, the session or the terminal modes.
import { oneShotPlan, runOneShot } from "../client/one-shot.ts";

export async function runClientCli(args: string[]): Promise<never> {
  const oneShot = oneShotPlan(args);
  if (oneShot) process.exit(await runOneShot(oneShot));
  // `client --version` alone needs nothing else either (anywhere else on the line, runCli finds it).
  if (args.length === 1 && (args[0] === "--version" || args[0] === "-v"))
    return (await import("./version.ts")).printVersion();
  return (await import("../client/cli.ts")).runClientCommand(args);
}
