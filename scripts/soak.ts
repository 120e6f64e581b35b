// bun run soak -- --clients 1000 --minutes 2
// A long run against a real server process: N client slots, each running one connection after
// another with a mix of good and bad behaviour, and a report every few seconds of connections,
// messages, acks, errors and the server's memory and CPU. It ends with a SIGTERM to the server
// and a summary; the exit code is 1 when an ack was lost, the server misbehaved, or its memory
// grew through the run (the second half's mean above the first half's by more than
// --max-rss-growth percent). Not part of CI.

import { join } from "node:path";
import { parseArgs } from "node:util";
import { CHILD_ENV } from "../harness/child-env.ts";
import { cpuSeconds, memoryKiB } from "../harness/procfs.ts";
import { seededRandom } from "../harness/random.ts";
import { RawClient } from "../harness/raw-client.ts";
import { TextCollector } from "../harness/text-collector.ts";
import { ackFor } from "../src/protocol/messages.ts";

const { values: flags } = parseArgs({
  options: {
    clients: { type: "string", default: "200" },
    minutes: { type: "string", default: "1" },
    seed: { type: "string", default: "1" },
    "report-every": { type: "string", default: "10" },
    "idle-timeout": { type: "string", default: "5" },
    "max-rss-growth": { type: "string", default: "25" },
  },
});
const CLIENTS = Number(flags.clients);
const DURATION_MS = Number(flags.minutes) * 60_000;
const REPORT_MS = Number(flags["report-every"]) * 1000;
const IDLE_TIMEOUT_S = Number(flags["idle-timeout"]);
const MAX_RSS_GROWTH = Number(flags["max-rss-growth"]) / 100;
/** Fewer reports under load than this, and the halves are too short to compare. */
const MIN_RSS_SAMPLES = 4;
const random = seededRandom(Number(flags.seed));

const counts = {
  connections: 0,
  messages: 0,
  acks: 0,
  lostAcks: 0,
  wrongAcks: 0,
  tooLong: 0,
  idle: 0,
  full: 0,
  resets: 0,
  unexpectedEnds: 0,
  badBehaviour: 0,
};
let open = 0;

// The server: defaults, except a connection limit above the client count and an idle timeout
// short enough that the idle behaviour meets it.
const server = Bun.spawn(
  [
    process.execPath,
    join(import.meta.dir, "..", "server.ts"),
    "--port",
    "0",
    "--quiet",
    "--idle-timeout",
    String(IDLE_TIMEOUT_S),
    "--max-connections",
    String(CLIENTS + 100),
  ],
  { stdin: "ignore", stdout: "ignore", stderr: "pipe", env: CHILD_ENV },
);
const serverLog = new TextCollector(server.stderr);
const port = Number((await serverLog.waitFor(/listening on [^:]+:(\d+)/))[1]);
// The log grows by a few lines per connection: count what matters, then let it go.
const serverCounts = { accepted: 0, disconnected: 0, limits: 0 };
setInterval(() => {
  const text = serverLog.text;
  const cut = text.lastIndexOf("\n") + 1;
  for (const line of text.slice(0, cut).split("\n")) {
    if (line.startsWith("[NEW CONNECTION]")) serverCounts.accepted++;
    else if (line.startsWith("[DISCONNECTED]")) serverCounts.disconnected++;
    else if (line.startsWith("[LIMIT]")) serverCounts.limits++;
  }
  serverLog.text = text.slice(cut);
}, 250).unref();

type Behaviour = (peer: RawClient) => Promise<void>;

/** Pipelines a few batches of messages, checks every ack in order, and leaves politely. */
const good: Behaviour = async (peer) => {
  const expected: string[] = [];
  const batches = 1 + random.int(8);
  for (let b = 0; b < batches && !peer.isEnded; b++) {
    let batch = "";
    for (let i = random.int(200); i >= 0; i--) {
      const message = `m${counts.messages++}-${"x".repeat(random.int(100))}`;
      expected.push(ackFor(message));
      batch += message + (random.int(2) ? "\n" : "\r\n");
    }
    peer.write(batch);
    await Bun.sleep(100 + random.int(900));
  }
  await settle(peer, expected);
};

/** Stops reading for a while so its replies back up, then catches up: nothing may be lost. */
const slowReader: Behaviour = async (peer) => {
  peer.pause();
  const expected: string[] = [];
  for (let i = 0; i < 20_000; i++) {
    const message = `s${counts.messages++}`;
    expected.push(ackFor(message));
    peer.write(`${message}\n`);
  }
  await Bun.sleep(2000);
  peer.resume();
  await settle(peer, expected);
};

/** Streams 2 MiB without a newline: the server must refuse it. */
const oversize: Behaviour = async (peer) => {
  peer.write(Buffer.alloc(2 * 1024 * 1024, "y"));
  await expectEnd(peer, "ERROR message too long", "tooLong");
};

/** Random bytes with line breaks, then FIN: one ack per line, including a last partial one. */
const garbage: Behaviour = async (peer) => {
  const bytes = Uint8Array.from({ length: 1 + random.int(4000) }, () =>
    random.int(20) === 0 ? 0x0a : random.int(256),
  );
  let lines = 0;
  for (const byte of bytes) if (byte === 0x0a) lines++;
  if (bytes[bytes.length - 1] !== 0x0a) lines++;
  counts.messages += lines;
  peer.write(bytes);
  await peer.sent();
  peer.finishSending();
  await ended(peer, 10_000);
  const acks = peer.replies.lines.filter((line) => line.startsWith("Message '")).length;
  counts.acks += acks;
  // An ack may hold a line break of its own only if the message did: never here.
  if (acks !== lines) counts.lostAcks += Math.max(0, lines - acks);
};

/** Connects and says nothing: the idle timeout must close it. */
const idle: Behaviour = async (peer) => {
  await expectEnd(peer, "ERROR idle timeout", "idle", (IDLE_TIMEOUT_S + 5) * 1000);
};

/** Sends part of a line and resets. */
const reset: Behaviour = async (peer) => {
  peer.write("half a line".repeat(random.int(100)));
  await Bun.sleep(random.int(500));
  peer.terminate();
  counts.resets++;
};

const BEHAVIOURS: Array<[Behaviour, number]> = [
  [good, 70],
  [slowReader, 4],
  [oversize, 4],
  [garbage, 10],
  [idle, 4],
  [reset, 8],
];
const WEIGHTED = BEHAVIOURS.flatMap(([behaviour, weight]) => Array<Behaviour>(weight).fill(behaviour));

/** Waits for every expected ack, then half-closes and waits for the server's goodbye. */
async function settle(peer: RawClient, expected: string[]): Promise<void> {
  await peer.until(() => peer.receivedLines >= expected.length, 30_000).catch(() => {});
  const lines = peer.replies.lines;
  let matched = 0;
  while (matched < expected.length && lines[matched] === expected[matched]) matched++;
  counts.acks += matched;
  if (matched < expected.length) {
    counts.lostAcks += expected.length - matched;
    if (lines.length > matched) counts.wrongAcks++;
    if (peer.isEnded) counts.unexpectedEnds++;
    report(`lost ${expected.length - matched} acks; next line ${JSON.stringify(lines[matched]?.slice(0, 80))}`);
  }
  peer.finishSending();
  await ended(peer, 10_000);
}

async function expectEnd(peer: RawClient, notice: string, counter: "tooLong" | "idle", deadlineMs = 10_000) {
  await ended(peer, deadlineMs);
  if (peer.replies.text.startsWith(notice)) counts[counter]++;
  else {
    counts.badBehaviour++;
    report(`expected ${notice}, got ${JSON.stringify(peer.replies.text.slice(0, 80))}`);
  }
}

async function ended(peer: RawClient, deadlineMs: number): Promise<void> {
  const timer = setTimeout(() => peer.terminate(), deadlineMs);
  await peer.ending;
  clearTimeout(timer);
}

async function slot(until: number): Promise<void> {
  while (performance.now() < until) {
    let peer: RawClient;
    try {
      peer = await RawClient.connect(port);
    } catch (error) {
      counts.badBehaviour++;
      report(`connect failed: ${(error as Error).message}`);
      await Bun.sleep(1000);
      continue;
    }
    counts.connections++;
    open++;
    try {
      await random.pick(WEIGHTED)(peer);
      // The connection limit is above the client count: a full server has lost track of some.
      if (peer.replies.text.startsWith("ERROR server is full")) {
        counts.full++;
        report("turned away: ERROR server is full");
      }
    } finally {
      open--;
      if (!peer.isEnded) peer.end();
    }
  }
}

const started = performance.now();
const cpuTotal = () => {
  const { user, system } = cpuSeconds(server.pid);
  return user + system;
};
let lastCpu = cpuTotal();
let lastReportAt = started;
const rssSamples: number[] = [];

function report(note?: string): void {
  const seconds = ((performance.now() - started) / 1000).toFixed(0).padStart(4);
  if (note) return void console.log(`${seconds}s  ! ${note}`);
  const now = performance.now();
  const cpuNow = cpuTotal();
  const cpu = ((cpuNow - lastCpu) / ((now - lastReportAt) / 1000)) * 100;
  lastCpu = cpuNow;
  lastReportAt = now;
  const rss = memoryKiB(server.pid).rss / 1024;
  rssSamples.push(rss);
  console.log(
    [
      `${seconds}s`,
      `open ${String(open).padStart(5)}`,
      `server-side ${String(serverCounts.accepted - serverCounts.disconnected).padStart(5)}`,
      `conns ${String(counts.connections).padStart(7)}`,
      `msgs ${String(counts.messages).padStart(9)}`,
      `acks ${String(counts.acks).padStart(9)}`,
      `lost ${counts.lostAcks}`,
      `ended-early ${counts.unexpectedEnds}`,
      `full ${counts.full}`,
      `too-long ${counts.tooLong}`,
      `idle ${counts.idle}`,
      `resets ${counts.resets}`,
      `bad ${counts.badBehaviour}`,
      `server rss ${rss.toFixed(1)} MiB`,
      `cpu ${cpu.toFixed(0)}%`,
    ].join("  "),
  );
}

console.log(`soak: ${CLIENTS} clients for ${flags.minutes} min against 127.0.0.1:${port} (server pid ${server.pid})`);
report();
const reporter = setInterval(() => report(), REPORT_MS);
const until = performance.now() + DURATION_MS;
await Promise.all(Array.from({ length: CLIENTS }, () => slot(until)));
clearInterval(reporter);
report();

server.kill("SIGTERM");
const exitCode = await Promise.race([server.exited, Bun.sleep(15_000).then(() => "hung")]);
if (exitCode === "hung") server.kill("SIGKILL");
const rssMin = Math.min(...rssSamples);
// Flat memory: the second half of the run (under load: the first and last reports left out)
// holds no more, on average, than the first half plus MAX_RSS_GROWTH.
const average = (samples: number[]) => samples.reduce((sum, x) => sum + x, 0) / Math.max(1, samples.length);
const underLoad = rssSamples.slice(1, -1);
const firstHalf = average(underLoad.slice(0, Math.floor(underLoad.length / 2)));
const secondHalf = average(underLoad.slice(Math.floor(underLoad.length / 2)));
const rssMax = Math.max(...rssSamples);
const rssComparable = underLoad.length >= MIN_RSS_SAMPLES;
const rssFlat = !rssComparable || secondHalf <= firstHalf * (1 + MAX_RSS_GROWTH);
const summary = {
  clients: CLIENTS,
  minutes: Number(flags.minutes),
  connections: counts.connections,
  serverAccepted: serverCounts.accepted,
  serverLimitLines: serverCounts.limits,
  messages: counts.messages,
  acks: counts.acks,
  lostAcks: counts.lostAcks,
  wrongAcks: counts.wrongAcks,
  unexpectedEnds: counts.unexpectedEnds,
  turnedAwayFull: counts.full,
  tooLong: counts.tooLong,
  idleTimeouts: counts.idle,
  resets: counts.resets,
  badBehaviour: counts.badBehaviour,
  serverRssMiB: {
    atStart: rssSamples[0]?.toFixed(1),
    min: rssMin.toFixed(1),
    max: rssMax.toFixed(1),
    firstHalfAverage: firstHalf.toFixed(1),
    secondHalfAverage: secondHalf.toFixed(1),
    afterClientsLeft: rssSamples.at(-1)?.toFixed(1),
    flat: rssComparable
      ? rssFlat
      : `not checked: ${underLoad.length} reports under load, ${MIN_RSS_SAMPLES} needed (a longer run, or a smaller --report-every)`,
  },
  serverExit: exitCode,
};
console.log(JSON.stringify(summary, null, 2));
const ok =
  counts.lostAcks === 0 &&
  counts.wrongAcks === 0 &&
  counts.unexpectedEnds === 0 &&
  counts.full === 0 &&
  counts.badBehaviour === 0 &&
  rssFlat &&
  exitCode === 0;
console.log(ok ? "soak: OK" : "soak: FAILED");
process.exit(ok ? 0 : 1);
