// How the client starts, as `client` and as `socket-lab client`: a one-shot (`client -m TEXT`
// into a pipe) runs its small program; any other command line loads the whole one. That is an
// import()ed chunk (binaries are built with code splitting, scripts/compile.ts), so a one-shot
// never loads citty, the flag definitions, the session or the terminal modes.
import { oneShotPlan, runOneShot } from "../client/one-shot.ts";

export async function runClientCli(args: string[]): Promise<never> {
  const oneShot = oneShotPlan(args);
  if (oneShot) process.exit(await runOneShot(oneShot));
  const [{ clientCommand }, { runCli }] = await Promise.all([import("../client/cli.ts"), import("./run.ts")]);
  return runCli(clientCommand, args);
}
