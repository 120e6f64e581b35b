// Counting lines in bulk: the LFs of the bytes a client sends, and the lines of the acks it gets
// back (each must start with the ack's prefix). Small inputs (a one-shot, an interactive line) are
// scanned here with indexOf, one native call per line; large ones (a piped file) by line-scan.wat,
// which tests 16 bytes at a time and costs one call and one copy per read instead. At 1M short
// lines these calls were the client's largest cost: about half of the CPU of
// `client --quiet < 1M lines`. A runtime without WebAssembly SIMD scans everything here.
import { LINE_SCAN_WASM_BASE64 } from "./line-scan-wasm.ts";

const LF = 0x0a;
/**
 * Inputs shorter than this are scanned in JavaScript: a few lines cost less as calls than as a
 * copy, and a run that never scans this much never instantiates the module.
 */
const WASM_MIN_BYTES = 4096;
/** Where the scanned bytes start in the module's memory; the prefix is described below. */
const DATA = 64;
/** The prefixes the module checks: two words, the second under a mask (line-scan.wat). */
const WASM_PREFIX_MIN_BYTES = 8;
const WASM_PREFIX_MAX_BYTES = 16;
/** The scans read whole words, up to this far past the data's end. */
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
  countPrefixedLines(start: number, end: number): number;
}

/** Made on first use; null once the module would not compile (no SIMD): then JavaScript scans. */
let scanner: Scanner | null | undefined;
/** The prefix the module's memory describes now. */
let prefixInMemory: Uint8Array | undefined;

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
    return { ...exports, bytes: new Uint8Array(exports.memory.buffer) };
  } catch {
    return null;
  }
}

/** Whether large inputs are scanned by the module here (the tests check that they are). */
export function lineScanUsesWasm(): boolean {
  return scannerFor(0) !== undefined;
}

/** Writes what line-scan.wat's $startsWithPrefix compares with: the prefix, zero-padded, and a mask. */
function describePrefix(wasm: Scanner, prefix: Uint8Array): void {
  if (prefixInMemory === prefix) return;
  const memory = wasm.bytes;
  for (let i = 0; i < 16; i++) memory[i] = prefix[i] ?? 0;
  // The mask of the second word: 0xff for each prefix byte past the first eight.
  for (let i = 8; i < 16; i++) memory[8 + i] = i < prefix.length ? 0xff : 0;
  prefixInMemory = prefix;
}

/** How many LFs `bytes` holds (a client counts the line-framed messages it sends so). */
export function countLineBreaks(bytes: Uint8Array): number {
  let count = 0;
  const wasm = bytes.length >= WASM_MIN_BYTES ? scannerFor(Math.min(bytes.length, WINDOW_BYTES)) : undefined;
  if (wasm === undefined) {
    for (let i = typedIndexOf.call(bytes, LF); i !== -1; i = typedIndexOf.call(bytes, LF, i + 1)) count++;
    return count;
  }
  for (let start = 0; start < bytes.length; start += WINDOW_BYTES) {
    const piece = bytes.subarray(start, start + WINDOW_BYTES);
    wasm.bytes.set(piece, DATA);
    count += wasm.countLf(DATA, DATA + piece.length);
  }
  return count;
}

/**
 * How many lines `lines` holds when it is only complete lines (it ends with an LF) and each one
 * starts with `prefix` (which holds no LF); else -1 (also for no bytes at all). The module takes
 * prefixes of 8 to 16 bytes (the ack's is 9), JavaScript any other.
 */
export function countPrefixedLines(lines: Uint8Array, prefix: Uint8Array): number {
  if (lines.length === 0 || lines[lines.length - 1] !== LF) return -1;
  const wasm =
    lines.length >= WASM_MIN_BYTES && prefix.length >= WASM_PREFIX_MIN_BYTES && prefix.length <= WASM_PREFIX_MAX_BYTES
      ? scannerFor(Math.min(lines.length, WINDOW_BYTES))
      : undefined;
  if (wasm === undefined) return countPrefixedLinesInJs(lines, prefix, 0);
  let count = 0;
  for (let start = 0; start < lines.length; ) {
    // A window ends at a line's end: its last LF. A line longer than the window is left to JS.
    let end = lines.length;
    if (end - start > WINDOW_BYTES) {
      end = typedLastIndexOf.call(lines, LF, start + WINDOW_BYTES - 1) + 1;
      if (end <= start) {
        const rest = countPrefixedLinesInJs(lines, prefix, start);
        return rest < 0 ? -1 : count + rest;
      }
    }
    describePrefix(wasm, prefix);
    wasm.bytes.set(lines.subarray(start, end), DATA);
    const counted = wasm.countPrefixedLines(DATA, DATA + end - start);
    if (counted < 0) return -1;
    count += counted;
    start = end;
  }
  return count;
}

/** countPrefixedLines for the lines from `start` on (which end with an LF), a search per line. */
function countPrefixedLinesInJs(lines: Uint8Array, prefix: Uint8Array, start: number): number {
  let count = 0;
  while (start < lines.length) {
    for (let i = 0; i < prefix.length; i++) if (lines[start + i] !== prefix[i]) return -1;
    start = typedIndexOf.call(lines, LF, start + prefix.length) + 1;
    if (start === 0) return -1;
    count++;
  }
  return count;
}
