// Preloaded by bun test (bunfig.toml). Bun has no bunfig setting for the per-test timeout, and in
// Bun 1.4.4 a setDefaultTimeout() here reaches only the first test file of a run, so `npm test`
// passes --timeout 30000 as well; this covers `bun test tests/one.test.ts`. Socket tests start
// real processes, and their own deadlines (DEADLINE_MS) must fire first, with a message that says
// what was missing.
import { setDefaultTimeout } from "bun:test";

setDefaultTimeout(30_000);
