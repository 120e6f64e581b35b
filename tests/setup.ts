// Preloaded by bun test (bunfig.toml). Bun has no bunfig setting for the per-test timeout, so it is
// set here: socket tests start real processes, and their own deadlines (DEADLINE_MS) must fire
// first, with a message that says what was missing.
import { setDefaultTimeout } from "bun:test";

setDefaultTimeout(30_000);
