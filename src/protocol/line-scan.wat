;; Line scanning for bulk streams, in WebAssembly: the client's count of the messages it sends
;; (the LFs of its input) and its check of the acks that come back (every line starts with the
;; ack's prefix and ends with its suffix). In JavaScript both are one native indexOf call per line, and at a million short
;; lines the calls, not the searching, are most of the client's CPU. Here 16 bytes at a time are
;; tested for LFs (SIMD), and the code is compiled as it is instantiated: nothing waits for a JIT
;; to warm up, which a 100 ms process never sees.
;;
;; line-scan.ts copies the bytes in and calls these; scripts/wasm.ts compiles this file into
;; line-scan-wasm.ts (the bytes, so that the compiled binaries carry them). Memory layout:
;; bytes [0, 24) describe a prefix, [24, 48) are a line's 24-byte ending (the ack's suffix and its
;; LF), the bytes to scan start at 64 (DATA). Loads may read up to 16
;; bytes past the end of the data: line-scan.ts keeps that much memory beyond it.
(module
  (memory (export "memory") 2)

  ;; A bit for each of the 16 bytes at $at that is LF (bit k: byte $at + k).
  (func $lfBits (param $at i32) (result i32)
    (i8x16.bitmask (i8x16.eq (v128.load (local.get $at)) (i8x16.splat (i32.const 0x0A)))))

  ;; How many LF bytes [$i, $end) holds.
  (func (export "countLf") (param $i i32) (param $end i32) (result i32)
    (local $count i32)
    (block $words_done
      (loop $words
        (br_if $words_done (i32.gt_u (i32.add (local.get $i) (i32.const 16)) (local.get $end)))
        (local.set $count (i32.add (local.get $count) (i32.popcnt (call $lfBits (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $words)))
    (block $bytes_done
      (loop $bytes
        (br_if $bytes_done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $count (i32.add (local.get $count) (i32.eq (i32.load8_u (local.get $i)) (i32.const 0x0A))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $bytes)))
    (local.get $count))

  ;; Whether the bytes at $at begin with the prefix: its first 8 bytes are the word at 0, the rest
  ;; (up to 8 more) the word at 8 under the mask at 16 (line-scan.ts writes all three). A line
  ;; shorter than the prefix never matches (its LF is not in the prefix), so bytes past the line,
  ;; or past the data, never decide a match.
  (func $startsWithPrefix (param $at i32) (result i32)
    (i32.and
      (i64.eq (i64.load (local.get $at)) (i64.load (i32.const 0)))
      (i64.eq (i64.and (i64.load offset=8 (local.get $at)) (i64.load (i32.const 16))) (i64.load (i32.const 8)))))

  ;; How many lines [$start, $end) holds when it is only complete lines (the last byte is LF), each
  ;; starting with the prefix ($startsWithPrefix), at least $minLength bytes long (without its LF),
  ;; and ending with the 24-byte ending at 24 (compared as three words, inline: a call per line
  ;; cost a large read a third more). At that length the ending cannot overlap the prefix and the
  ;; loads, from $lf - 23 to $lf, lie inside the line; a shorter line's may reach before it (never
  ;; before memory's start: the data starts at 64), and its length alone decides.
  (func (export "countPrefixedLines") (param $start i32) (param $end i32) (param $minLength i32) (result i32)
    (local $i i32)
    (local $bits i32)
    (local $lf i32)
    (local $count i32)
    (local $lineStart i32)
    (local $end0 i64)
    (local $end1 i64)
    (local $end2 i64)
    (if (i32.ge_u (local.get $start) (local.get $end)) (then (return (i32.const -1))))
    (if (i32.ne (i32.load8_u (i32.sub (local.get $end) (i32.const 1))) (i32.const 0x0A))
      (then (return (i32.const -1))))
    (if (i32.eqz (call $startsWithPrefix (local.get $start)))
      (then (return (i32.const -1))))
    (local.set $i (local.get $start))
    (local.set $lineStart (local.get $start))
    (local.set $end0 (i64.load (i32.const 24)))
    (local.set $end1 (i64.load (i32.const 32)))
    (local.set $end2 (i64.load (i32.const 40)))
    ;; Each LF ends a line, which must end as an ack does; the next line (if any) must start with
    ;; the prefix too.
    (block $words_done
      (loop $words
        (br_if $words_done (i32.gt_u (i32.add (local.get $i) (i32.const 16)) (local.get $end)))
        (local.set $bits (call $lfBits (local.get $i)))
        (block $lfs_done
          (loop $lfs
            (br_if $lfs_done (i32.eqz (local.get $bits)))
            (local.set $lf (i32.add (local.get $i) (i32.ctz (local.get $bits))))
            (if (i32.or
                  (i32.lt_u (i32.sub (local.get $lf) (local.get $lineStart)) (local.get $minLength))
                  (i64.ne
                    (i64.or
                      (i64.or
                        (i64.xor (i64.load offset=0 (i32.sub (local.get $lf) (i32.const 23))) (local.get $end0))
                        (i64.xor (i64.load offset=8 (i32.sub (local.get $lf) (i32.const 23))) (local.get $end1)))
                      (i64.xor (i64.load offset=16 (i32.sub (local.get $lf) (i32.const 23))) (local.get $end2)))
                    (i64.const 0)))
              (then (return (i32.const -1))))
            (local.set $lineStart (i32.add (local.get $lf) (i32.const 1)))
            (local.set $count (i32.add (local.get $count) (i32.const 1)))
            (if (i32.lt_u (i32.add (local.get $lf) (i32.const 1)) (local.get $end))
              (then
                (if (i32.eqz (call $startsWithPrefix (i32.add (local.get $lf) (i32.const 1))))
                  (then (return (i32.const -1))))))
            (local.set $bits (i32.and (local.get $bits) (i32.sub (local.get $bits) (i32.const 1))))
            (br $lfs)))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $words)))
    (block $bytes_done
      (loop $bytes
        (br_if $bytes_done (i32.ge_u (local.get $i) (local.get $end)))
        (if (i32.eq (i32.load8_u (local.get $i)) (i32.const 0x0A))
          (then
            (if (i32.or
                  (i32.lt_u (i32.sub (local.get $i) (local.get $lineStart)) (local.get $minLength))
                  (i64.ne
                    (i64.or
                      (i64.or
                        (i64.xor (i64.load offset=0 (i32.sub (local.get $i) (i32.const 23))) (local.get $end0))
                        (i64.xor (i64.load offset=8 (i32.sub (local.get $i) (i32.const 23))) (local.get $end1)))
                      (i64.xor (i64.load offset=16 (i32.sub (local.get $i) (i32.const 23))) (local.get $end2)))
                    (i64.const 0)))
              (then (return (i32.const -1))))
            (local.set $lineStart (i32.add (local.get $i) (i32.const 1)))
            (local.set $count (i32.add (local.get $count) (i32.const 1)))
            (if (i32.lt_u (i32.add (local.get $i) (i32.const 1)) (local.get $end))
              (then
                (if (i32.eqz (call $startsWithPrefix (i32.add (local.get $i) (i32.const 1))))
                  (then (return (i32.const -1))))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $bytes)))
    (local.get $count))
)
