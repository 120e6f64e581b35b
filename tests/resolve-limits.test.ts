// The limits arithmetic (resolveLimits in src/server/limits.ts): the documented defaults, what a
// user overrides, and the connection limit lowered to stay 256 descriptors under the open-file
// limit (README, `--max-connections`), since at the limit Bun's accept loop spins.
import { describe, expect, test } from "bun:test";
import { resolveLimits } from "../src/server/limits.ts";

/** The defaults as the README documents them. */
const DOCUMENTED = {
  maxConnections: 10_000,
  maxConnectionsPerAddress: 0,
  maxMessageBytes: 1_048_576,
  idleTimeoutMs: 0,
  maxOutputBytes: 1_048_576,
};
const RESERVE = 256;

describe("resolveLimits", () => {
  test("no request and no known file limit: the documented defaults, nothing lowered", () => {
    expect(resolveLimits(undefined, undefined)).toEqual({ limits: DOCUMENTED });
    expect(resolveLimits({}, undefined)).toEqual({ limits: DOCUMENTED });
  });

  test("a limit given as undefined keeps its default (it must not turn the limit off)", () => {
    const limits = { maxMessageBytes: undefined, idleTimeoutMs: undefined, maxConnectionsPerAddress: undefined };
    expect(resolveLimits(limits, undefined)).toEqual({ limits: DOCUMENTED });
  });

  test.each([
    ["maxMessageBytes", Number.NaN],
    ["idleTimeoutMs", -1],
    ["maxOutputBytes", 1.5],
    ["maxConnections", 0],
    ["maxConnectionsPerAddress", "3"],
  ])("limits.%s = %p is refused with a RangeError that names it", (name, value) => {
    expect(() => resolveLimits({ [name]: value } as never, undefined)).toThrow(
      new RegExp(`^limits\\.${name} must be a whole number`),
    );
  });

  test("what is asked for overrides the defaults, one limit at a time", () => {
    expect(resolveLimits({ maxMessageBytes: 1000 }, undefined)).toEqual({
      limits: { ...DOCUMENTED, maxMessageBytes: 1000 },
    });
    const all = {
      maxConnections: 5,
      maxConnectionsPerAddress: 2,
      maxMessageBytes: 10,
      idleTimeoutMs: 400,
      maxOutputBytes: 64,
    };
    expect(resolveLimits(all, 1_000_000)).toEqual({ limits: all });
  });

  test.each([
    // [file limit, asked for, in force, lowered from]
    [512, undefined, 512 - RESERVE, 10_000],
    [1024, undefined, 1024 - RESERVE, 10_000],
    [20_000, undefined, 10_000, undefined],
    [10_000 + RESERVE, undefined, 10_000, undefined],
    [10_000 + RESERVE - 1, undefined, 10_000 - 1, 10_000],
    [512, 100, 100, undefined],
    [512, 256, 256, undefined],
    [512, 257, 256, 257],
    [20_000, 50_000, 20_000 - RESERVE, 50_000],
    // Fewer descriptors than the reserve: still one client, never zero or less.
    [100, undefined, 1, 10_000],
    [RESERVE, 10, 1, 10],
  ])("file limit %p, --max-connections %p: %p in force (lowered from %p)", (fileLimit, asked, inForce, loweredFrom) => {
    const requested = asked === undefined ? {} : { maxConnections: asked };
    const resolved = resolveLimits(requested, fileLimit);
    expect(resolved.limits.maxConnections).toBe(inForce);
    expect(resolved.loweredFrom).toBe(loweredFrom);
  });

  test("lowering touches only the connection limit", () => {
    const asked = {
      maxConnections: 50_000,
      maxConnectionsPerAddress: 3,
      maxMessageBytes: 99,
      idleTimeoutMs: 7000,
      maxOutputBytes: 12_345,
    };
    expect(resolveLimits(asked, 1024)).toEqual({
      limits: { ...asked, maxConnections: 1024 - RESERVE },
      loweredFrom: 50_000,
    });
  });

  test("an unknown file limit (not Linux) leaves even a huge request as asked", () => {
    expect(resolveLimits({ maxConnections: 1_000_000 }, undefined)).toEqual({
      limits: { ...DOCUMENTED, maxConnections: 1_000_000 },
    });
  });

  test("the caller's request is not changed", () => {
    const asked = { maxConnections: 50_000 };
    resolveLimits(asked, 512);
    expect(asked).toEqual({ maxConnections: 50_000 });
  });
});
