// Counting lines in bulk, for the whole client program: the LFs of the input it sends, and the
// acks that come back. messages.ts's countLineBreaks and countAcks make one native
// indexOf call per line; at 1M short lines those calls were the client's largest cost, about half
// the CPU of `client --quiet < 1M lines`. Here a large read goes to line-scan.wat instead, which
// tests 16 bytes at a time (SIMD), for one call and one copy per read. Small reads (an
// interactive line) keep the plain functions, which need no module. The one-shot does not load
// this file: in a compiled one-shot, loading it cost 0.3-0.4 ms (300 alternating runs).
// A runtime without WebAssembly SIMD scans everything with the plain functions.
import { LINE_SCAN_WASM_BASE64 } from "./line-scan-wasm.ts";
import { ACK_PREFIX_BYTES, ACK_SUFFIX_LINE_BYTES, countAcks, countLineBreaks, MIN_ACK_LENGTH } from "./messages.ts";

const LF = 0x0a;
const CR = 0x0d;
/**
 * Inputs shorter than this take the plain functions: a few lines cost less as calls than as a
 * copy, and a run that never reads this much never instantiates the module.
 */
const WASM_MIN_BYTES = 4096;
/** Where the scanned bytes start in the module's memory; the prefix is described below. */
const DATA = 64;
/**
 * The scans read whole words, up to this far past the data's end. These bytes are set to LF
 * before each scan, so what a scan sees past the end never depends on an earlier read (and a
 * scan that strayed past it would miscount, which the tests would see).
 */
const SLACK = 16;
const PAGE_BYTES = 64 * 1024;
/** The most bytes copied in at once, so memory stays small whatever one input holds. */
const WINDOW_BYTES = 1024 * 1024;
const typedIndexOf = Uint8Array.prototype.indexOf;
const typedLastIndexOf = Uint8Array.prototype.lastIndexOf;

interface Scanner {
  memory: WebAssembly.Memory;
  /** A view of all of memory (replaced when it grows). */
  bytes: Uint8Array;
  countLf(start: number, end: number): number;
  countPrefixedLines(start: number, end: number, minLength: number): number;
}

/** Made on first use; null when the module would not compile (no SIMD): the plain functions scan. */
let scanner: Scanner | null | undefined;

/** The module, with room for `length` bytes of data; undefined when it is not available. */
function scannerFor(length: number): Scanner | undefined {
  if (scanner === undefined) scanner = instantiate();
  if (scanner === null) return undefined;
  const missing = DATA + length + SLACK - scanner.memory.buffer.byteLength;
  if (missing > 0) {
    scanner.memory.grow(Math.ceil(missing / PAGE_BYTES));
    scanner.bytes = new Uint8Array(scanner.memory.buffer);
  }
  return scanner;
}

function instantiate(): Scanner | null {
  try {
    const module = new WebAssembly.Module(Uint8Array.fromBase64(LINE_SCAN_WASM_BASE64));
    const exports = new WebAssembly.Instance(module).exports as unknown as Omit<Scanner, "bytes">;
    const scanner = { ...exports, bytes: new Uint8Array(exports.memory.buffer) };
    describeAck(scanner, ACK_PREFIX_BYTES, ACK_SUFFIX_LINE_BYTES);
    return scanner;
  } catch {
    return null;
  }
}

/** Whether large inputs are scanned by the module here (the tests check that they are). */
export function lineScanUsesWasm(): boolean {
  return scannerFor(0) !== undefined;
}

/**
 * Writes what line-scan.wat compares with: for $startsWithPrefix the prefix (8 to 16 bytes; the
 * ack's is 9), zero-padded to two words, and the second word's mask; for $endsWithSuffix the
 * line's ending (the ack's suffix and LF: 24 bytes, three words).
 */
function describeAck(wasm: Scanner, prefix: Uint8Array, ending: Uint8Array): void {
  if (prefix.length < 8 || prefix.length > 16) throw new Error(`line-scan.wat takes prefixes of 8 to 16 bytes`);
  if (ending.length !== 24) throw new Error(`line-scan.wat takes line endings of 24 bytes`);
  const memory = wasm.bytes;
  for (let i = 0; i < 16; i++) memory[i] = prefix[i] ?? 0;
  for (let i = 8; i < 16; i++) memory[8 + i] = i < prefix.length ? 0xff : 0;
  memory.set(ending, 24);
}

/** Puts `data` where the scans read it, and LFs in the slack after it. */
function copyIn(wasm: Scanner, data: Uint8Array): void {
  wasm.bytes.set(data, DATA);
  wasm.bytes.fill(LF, DATA + data.length, DATA + data.length + SLACK);
}

/** countLineBreaks(bytes), by the module when `bytes` is large. */
export function countLineBreaksInBulk(bytes: Uint8Array): number {
  const wasm = bytes.length >= WASM_MIN_BYTES ? scannerFor(Math.min(bytes.length, WINDOW_BYTES)) : undefined;
  if (wasm === undefined) return countLineBreaks(bytes);
  let count = 0;
  for (let start = 0; start < bytes.length; start += WINDOW_BYTES) {
    const piece = bytes.subarray(start, start + WINDOW_BYTES);
    copyIn(wasm, piece);
    count += wasm.countLf(DATA, DATA + piece.length);
  }
  return count;
}

/** countAcks(lines), by the module when `lines` is large. */
export function countAcksInBulk(lines: Uint8Array): number {
  const wasm = lines.length >= WASM_MIN_BYTES ? scannerFor(Math.min(lines.length, WINDOW_BYTES)) : undefined;
  if (wasm === undefined) return countAcks(lines);
  // As countAcks: lines with a CR take the line-by-line path, and so does a read not made of
  // whole lines (the module checks that too, for each window).
  if (typedIndexOf.call(lines, CR) !== -1 || lines[lines.length - 1] !== LF) return -1;
  let count = 0;
  for (let start = 0; start < lines.length; ) {
    // A window ends at a line's end: its last LF. A line longer than the window takes countAcks.
    let end = lines.length;
    if (end - start > WINDOW_BYTES) {
      end = typedLastIndexOf.call(lines, LF, start + WINDOW_BYTES - 1) + 1;
      if (end <= start) {
        const rest = countAcks(lines.subarray(start));
        return rest < 0 ? -1 : count + rest;
      }
    }
    copyIn(wasm, lines.subarray(start, end));
    const counted = wasm.countPrefixedLines(DATA, DATA + end - start, MIN_ACK_LENGTH);
    if (counted < 0) return -1;
    count += counted;
    start = end;
  }
  return count;
}
