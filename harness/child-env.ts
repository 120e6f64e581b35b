// The environment our programs run in when a test or script starts them.

/**
 * Plain output, and not `bun test`'s NODE_ENV=test, which children would inherit: consola drops
 * to warn level and changes its format under it.
 */
export const CHILD_ENV = { ...process.env, NO_COLOR: "1", NODE_ENV: "production", FORCE_COLOR: "0" };
