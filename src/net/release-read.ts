// Bun hands over each socket read, and each chunk of a stdin stream, in a fresh Buffer, and its
// memory goes back only when the garbage collector next finds it unreachable. Until then every new
// read lands on pages the process has not touched yet: one minor page fault per 4 KiB. For 1M piped
// lines the client reads 12 MB of input and 44 MB of acks that way (~13,700 faults; the faults and
// the copies into fresh pages were a fifth of its CPU), and the server the 12 MB of input. Detaching
// a read's ArrayBuffer once nothing holds it frees its memory at once, for the next read to reuse.

/**
 * Below this a read is left to the collector. Small reads share pages the allocator reuses anyway,
 * and releasing one means asking it for its `buffer`, which makes the engine give the typed array a
 * separate ArrayBuffer object: releasing the server's ~300-byte pipelined reads too cost user CPU
 * 0.23 -> 0.32 us per message.
 */
const RELEASE_MIN_BYTES = 16 * 1024;

/**
 * Frees the memory of `read` now. Only for a large read that is the whole of its ArrayBuffer (a
 * slice of a shared one is left alone), and only once nothing holds it or a view of it: callers'
 * handlers copy what they keep (the deframer's unfinished line, the outbox's unsent rest, the output
 * sink's unwritten bytes). Afterwards `read` may be empty.
 */
export function releaseRead(read: Uint8Array): void {
  // Length first, so that a small read is never asked for its `buffer`.
  if (read.length < RELEASE_MIN_BYTES || read.byteOffset !== 0) return;
  const memory = read.buffer;
  if (memory.byteLength === read.length && memory instanceof ArrayBuffer) memory.transfer(0);
}
