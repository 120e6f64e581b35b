// `socket-lab server ...`: the server's command line, as the multi-call binary runs it. This module
// is what the binary import()s for the server; scripts/compile.ts bundles it on its own first, so
// the server's code shares no chunk with the client's start (see BUNDLED_APART there).
export async function runServerCli(args: string[]): Promise<never> {
  const [{ runCli }, { serverCommand }] = await Promise.all([import("./run.ts"), import("../../server.ts")]);
  return runCli(serverCommand, args);
}
