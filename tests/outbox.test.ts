// The outbox (src/net/outbox.ts) against a socket that takes only a few bytes per write, as Bun's
// does under load: whatever the kernel takes, every byte goes out once, in order, and queuedBytes
// says how much is still waiting.
import { describe, expect, test } from "bun:test";
import { seededRandom } from "../harness/random.ts";
import { Outbox, type WritableSocket } from "../src/net/outbox.ts";

/**
 * A socket that takes at most `takes()` bytes per write (strings as UTF-8, as Bun counts them),
 * keeps what it took, and reports -1 once closed.
 */
class StingySocket implements WritableSocket {
  readonly taken: number[] = [];
  closed = false;
  writes = 0;

  constructor(private readonly takes: () => number) {}

  write(data: string | Uint8Array, byteOffset = 0, byteLength?: number): number {
    this.writes++;
    if (this.closed) return -1;
    // As Bun's: of bytes, byteLength of them from byteOffset.
    const bytes =
      typeof data === "string"
        ? Buffer.from(data)
        : data.subarray(byteOffset, byteLength === undefined ? undefined : byteOffset + byteLength);
    const count = Math.min(bytes.length, Math.max(0, this.takes()));
    for (const byte of bytes.subarray(0, count)) this.taken.push(byte);
    return count;
  }

  get text(): string {
    return Buffer.from(this.taken).toString("utf8");
  }
}

/** Flushes (as `drain` would) until the outbox is empty; a bound keeps a broken outbox from hanging. */
function drainAll(outbox: Outbox): void {
  for (let drains = 0; drains < 1_000_000 && !outbox.flush(); drains++);
}

describe("Outbox", () => {
  test("bytes it keeps are its own copy: the sender may reuse its buffer at once (the server's acks do)", () => {
    const socket = new StingySocket(() => 2);
    const outbox = new Outbox(socket);
    const scratch = Buffer.from("abcd");
    outbox.send(scratch);
    scratch.write("WXYZ");
    outbox.send(scratch);
    scratch.write("____");
    drainAll(outbox);
    expect(socket.text).toBe("abcdWXYZ");
  });

  test("of a buffer given with a length, only that many bytes go, and only those are kept (a reused ack buffer)", () => {
    const socket = new StingySocket(() => 3);
    const outbox = new Outbox(socket);
    const scratch = Buffer.from("abcdefgh-unused-tail");
    outbox.send(scratch, 8);
    expect(outbox.queuedBytes).toBe(5);
    scratch.write("XYZ-unused-tail");
    outbox.send(scratch, 3);
    expect(outbox.queuedBytes).toBe(8);
    drainAll(outbox);
    expect(socket.text).toBe("abcdefghXYZ");
  });

  test.each([1, 3, 7, 64, 4096])("a socket taking %p bytes per write gets every byte once, in order", (perWrite) => {
    const socket = new StingySocket(() => perWrite);
    const outbox = new Outbox(socket);
    const pieces = ["hello\n", "ñ€😀 split mid-character\n", Buffer.from("bytes\n"), "", "x".repeat(10_000), "end\n"];
    let given = 0;
    for (const piece of pieces) {
      outbox.send(piece);
      given += typeof piece === "string" ? Buffer.byteLength(piece) : piece.length;
      expect(outbox.queuedBytes).toBe(given - socket.taken.length);
    }
    drainAll(outbox);
    expect(outbox.queuedBytes).toBe(0);
    expect(outbox.isEmpty).toBe(true);
    expect(socket.text).toBe(pieces.map((piece) => piece.toString()).join(""));
  });

  test("random writes and random kernel appetites, drained now and then: the stream arrives whole", () => {
    const random = seededRandom(99);
    const socket = new StingySocket(() => (random.int(4) === 0 ? 0 : random.int(300)));
    const outbox = new Outbox(socket);
    let expected = "";
    for (let i = 0; i < 2000; i++) {
      const piece = `${i}:${"é".repeat(random.int(50))}😀\n`;
      expected += piece;
      outbox.send(random.int(2) ? piece : Buffer.from(piece));
      expect(outbox.queuedBytes).toBe(Buffer.byteLength(expected) - socket.taken.length);
      if (random.int(5) === 0) outbox.flush();
    }
    drainAll(outbox);
    expect(socket.text).toBe(expected);
  });

  test("while bytes are queued, new ones wait behind them instead of jumping the queue", () => {
    let appetite = 2;
    const socket = new StingySocket(() => appetite);
    const outbox = new Outbox(socket);
    outbox.send("first ");
    expect(socket.text).toBe("fi");
    const writesBefore = socket.writes;
    outbox.send("second");
    // Not offered to the socket at all: it would have gone out before the rest of "first ".
    expect(socket.writes).toBe(writesBefore);
    expect(outbox.queuedBytes).toBe(10);
    appetite = 1000;
    expect(outbox.flush()).toBe(true);
    expect(socket.text).toBe("first second");
  });

  test("a socket that takes everything: nothing is queued", () => {
    const socket = new StingySocket(() => Number.MAX_SAFE_INTEGER);
    const outbox = new Outbox(socket);
    outbox.send("all at once ñ\n");
    expect(outbox.queuedBytes).toBe(0);
    expect(outbox.flush()).toBe(true);
    expect(socket.text).toBe("all at once ñ\n");
  });

  test("a closed socket: the outbox says so and drops later sends", () => {
    const socket = new StingySocket(() => 4);
    const outbox = new Outbox(socket);
    outbox.send("abcdefgh");
    socket.closed = true;
    expect(outbox.flush()).toBe(false);
    expect(outbox.closed).toBe(true);
    const writes = socket.writes;
    outbox.send("after the close");
    expect(socket.writes).toBe(writes);
    expect(socket.text).toBe("abcd");
  });

  test("a large backlog drains in few writes (batched), still in order", () => {
    let appetite = 0;
    const socket = new StingySocket(() => appetite);
    const outbox = new Outbox(socket);
    const lines = Array.from({ length: 20_000 }, (_, i) => `line ${i}\n`);
    for (const line of lines) outbox.send(line);
    const writesBefore = socket.writes;
    appetite = Number.MAX_SAFE_INTEGER;
    expect(outbox.flush()).toBe(true);
    expect(socket.text).toBe(lines.join(""));
    // 20,000 pieces (about 200 KB) in far fewer writes than pieces.
    expect(socket.writes - writesBefore).toBeLessThan(10);
  });

  test("a shared counter adds up the bytes the sockets took, not the bytes given (partial writes, a close)", () => {
    const counter = { sentBytes: 0 };
    const slow = new StingySocket(() => 5);
    const fast = new StingySocket(() => Number.MAX_SAFE_INTEGER);
    const outboxes = [new Outbox(slow, counter), new Outbox(fast, counter)];
    const reply = "ñ€😀 not ASCII\n";
    for (const outbox of outboxes) outbox.send(reply);
    expect(counter.sentBytes).toBe(slow.taken.length + fast.taken.length);
    outboxes[0]!.flush();
    expect(counter.sentBytes).toBe(slow.taken.length + fast.taken.length);
    slow.closed = true;
    outboxes[0]!.flush();
    expect(counter.sentBytes).toBe(10 + Buffer.byteLength(reply));
  });
});
