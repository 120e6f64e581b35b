// The environment our programs run in when a test or script starts them.

/**
 * Plain output, and the NODE_ENV a user's shell has, not the `test` that `bun test` sets and
 * children would inherit (libraries such as prom-client may act on it).
 */
export const CHILD_ENV = { ...process.env, NO_COLOR: "1", NODE_ENV: "production", FORCE_COLOR: "0" };
