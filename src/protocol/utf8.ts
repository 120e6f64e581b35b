// UTF-8 checks for the hot paths and for start-up. None of them loads node:buffer or touches the
// Buffer global before it is needed: in a compiled binary the first use of either costs about
// 0.4 ms (Bun builds it on demand), a tenth of a one-shot `client -m hi` (BENCHMARKS.md, round five).

type IsUtf8 = (bytes: Uint8Array) => boolean;
let nativeIsUtf8: IsUtf8 | undefined;

/** node:buffer's isUtf8 (native, SIMD), loaded on the first call. */
export function isUtf8(bytes: Uint8Array): boolean {
  nativeIsUtf8 ??= (require("node:buffer") as { isUtf8: IsUtf8 }).isUtf8;
  return nativeIsUtf8(bytes);
}

/**
 * Short input that is all ASCII, so valid UTF-8: checked in a loop, which for a lockstep read's few
 * bytes costs less than the native isUtf8 call (user CPU per message 0.86 -> 0.68 us with the
 * whole-read path in framing.ts, `bun bench/ab.ts`). Input longer than `longest` bytes is not
 * looked at: false. The one-shot looks at all of it, as loading the native check costs it more.
 */
export function isAscii(bytes: Uint8Array, longest = 64): boolean {
  if (bytes.length > longest) return false;
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! >= 0x80) return false;
  return true;
}

/**
 * How many bytes `text` takes as UTF-8, as Buffer.byteLength counts them: a surrogate pair is 4, a
 * lone surrogate 3 (it is sent as U+FFFD).
 */
export function utf8Length(text: string): number {
  let length = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) continue;
    if (unit < 0x800) length += 1;
    else if (unit <= 0xdbff && unit >= 0xd800 && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      // A pair: two units, four bytes.
      length += 2;
      i++;
    } else length += 2;
  }
  return length;
}
