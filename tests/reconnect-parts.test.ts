// The pure parts of --reconnect: what is kept for resending (Unacknowledged) and the schedule of
// attempts (RetryPlan). The process tests are in reconnect.test.ts.
import { describe, expect, test } from "bun:test";
import { seededRandom } from "../harness/random.ts";
import { FIRST_DELAY_MS, MAX_DELAY_MS, RetryPlan } from "../src/client/reconnect.ts";
import { Unacknowledged } from "../src/client/unacknowledged.ts";

const kept = (unacknowledged: Unacknowledged) => Buffer.concat([...unacknowledged.toSend()]).toString();
const lfs = (text: string) => text.split("\n").length - 1;

describe("Unacknowledged keeps exactly the bytes not yet acknowledged", () => {
  test("acknowledgements that end inside a chunk, at its end, and past it", () => {
    const unacknowledged = new Unacknowledged();
    for (const chunk of ["a\nb", "b\nc\n", "dd", "d\ne"]) unacknowledged.add(Buffer.from(chunk), lfs(chunk), false);
    expect([kept(unacknowledged), unacknowledged.messages]).toEqual(["a\nbb\nc\nddd\ne", 4]);
    unacknowledged.acknowledge(1);
    expect(kept(unacknowledged)).toBe("bb\nc\nddd\ne");
    unacknowledged.acknowledge(2);
    expect(kept(unacknowledged)).toBe("ddd\ne");
    unacknowledged.acknowledge(1);
    // The message still being read stays: it goes again with the rest of it.
    expect([kept(unacknowledged), unacknowledged.messages, unacknowledged.bytes]).toEqual(["e", 0, 1]);
  });

  test("raw framing: each send is one message, LF or not", () => {
    const unacknowledged = new Unacknowledged();
    unacknowledged.add(Buffer.from("one"), 1, true);
    unacknowledged.add(Buffer.from("two"), 1, true);
    unacknowledged.acknowledge(1);
    expect([kept(unacknowledged), unacknowledged.messages]).toEqual(["two", 1]);
  });

  test("random chunkings and acknowledgements (seeded): always the input from the first unacknowledged message", () => {
    const random = seededRandom(10);
    for (let run = 0; run < 100; run++) {
      const lines = Array.from({ length: 1 + random.int(500) }, (_, i) => `${i}${"x".repeat(random.int(20))}\n`);
      const input = lines.join("");
      const unacknowledged = new Unacknowledged();
      let sentUpTo = 0;
      let acknowledged = 0;
      let sentMessages = 0;
      while (sentUpTo < input.length || acknowledged < lines.length) {
        if (sentUpTo < input.length && random.next() < 0.6) {
          const chunk = input.slice(sentUpTo, sentUpTo + 1 + random.int(200));
          sentUpTo += chunk.length;
          sentMessages += lfs(chunk);
          unacknowledged.add(Buffer.from(chunk), lfs(chunk), false);
        } else if (sentMessages > acknowledged) {
          const count = 1 + random.int(sentMessages - acknowledged);
          unacknowledged.acknowledge(count);
          acknowledged += count;
        }
        const expected = input.slice(lines.slice(0, acknowledged).join("").length, sentUpTo);
        const state = [kept(unacknowledged), unacknowledged.bytes, unacknowledged.messages];
        const wanted = [expected, expected.length, sentMessages - acknowledged];
        if (!Bun.deepEquals(state, wanted)) expect({ run, state }).toEqual({ run, state: wanted });
      }
    }
  });
});

describe("RetryPlan", () => {
  test("waits double from 100 ms to 2 s, each between half and all of that; an ack starts them over", () => {
    const low = new RetryPlan(0, () => 0);
    const high = new RetryPlan(0, () => 1);
    const waits = (plan: RetryPlan) => Array.from({ length: 8 }, () => plan.nextDelay(0));
    expect(waits(low)).toEqual([50, 100, 200, 400, 800, 1000, 1000, 1000]);
    expect(waits(high)).toEqual([100, 200, 400, 800, 1600, 2000, 2000, 2000]);
    high.progressed();
    expect(high.nextDelay(0)).toBe(FIRST_DELAY_MS);
    expect(MAX_DELAY_MS).toBe(2000);
  });

  test("--reconnect-for is the total over every outage; the last wait is cut to what is left", () => {
    const plan = new RetryPlan(1000, () => 1);
    expect(plan.nextDelay(0)).toBe(100); // outage 1 starts at 0
    plan.connected(600); // 600 ms spent
    expect(plan.nextDelay(10_000)).toBe(200); // outage 2 starts at 10,000
    expect(plan.nextDelay(10_300)).toBe(100); // 400 - 300 left
    expect(plan.nextDelay(10_400)).toBeUndefined();
  });

  test("0: no limit", () => {
    const plan = new RetryPlan(0, () => 1);
    expect(plan.nextDelay(0)).toBe(100);
    expect(plan.nextDelay(1e9)).toBe(200);
  });
});
