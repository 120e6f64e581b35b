// The bytes of the messages sent and not yet acknowledged, in input order, kept so that a new
// connection (--reconnect) can be sent exactly them again. Input is kept as the chunks it came
// in (no copy, no split per message); an acknowledgement of `count` messages drops the bytes up to
// and including the count-th message end. The last chunk may end inside a message (a line whose
// LF has not been read yet): that part is kept too, and is sent again with the rest.

interface Piece {
  bytes: Uint8Array;
  /** Complete messages that end in this piece (past `offset`, for the first piece). */
  messages: number;
  /** The piece ends exactly where a message ends. */
  endsMessage: boolean;
}

const LF = 0x0a;

export class Unacknowledged {
  private pieces: Array<Piece | undefined> = [];
  /** Index of the oldest piece still kept; the array is compacted now and then. */
  private head = 0;
  /** Bytes of the oldest piece that are already acknowledged. */
  private offset = 0;
  /** Bytes kept, partial message included. */
  bytes = 0;
  /** Complete messages kept. */
  messages = 0;

  /**
   * Keeps bytes just sent, holding `messages` complete messages. In line framing a message ends
   * at its LF; in raw framing each send is one whole message (`wholeMessages`).
   */
  add(bytes: Uint8Array, messages: number, wholeMessages: boolean): void {
    if (bytes.length === 0) return;
    this.pieces.push({ bytes, messages, endsMessage: wholeMessages || bytes[bytes.length - 1] === LF });
    this.bytes += bytes.length;
    this.messages += messages;
  }

  /** The oldest `count` messages were acknowledged: their bytes are no longer needed. */
  acknowledge(count: number): void {
    this.messages -= count;
    while (count > 0 && this.head < this.pieces.length) {
      const piece = this.pieces[this.head]!;
      if (piece.messages < count || (piece.messages === count && piece.endsMessage)) {
        // The acknowledged messages reach past this piece (or end with it): drop it whole.
        count -= piece.messages;
        this.bytes -= piece.bytes.length - this.offset;
        this.pieces[this.head++] = undefined;
        this.offset = 0;
        continue;
      }
      // They end inside this piece, which only line framing splits: after the count-th LF.
      let end = this.offset;
      for (let left = count; left > 0; left--) end = piece.bytes.indexOf(LF, end) + 1;
      this.bytes -= end - this.offset;
      this.offset = end;
      piece.messages -= count;
      count = 0;
    }
    if (this.head > 1024 && this.head * 2 > this.pieces.length) {
      this.pieces = this.pieces.slice(this.head);
      this.head = 0;
    }
  }

  /** Everything kept, oldest first, as it is to be sent again. */
  *toSend(): Generator<Uint8Array> {
    for (let i = this.head; i < this.pieces.length; i++) {
      const bytes = this.pieces[i]!.bytes;
      yield i === this.head && this.offset > 0 ? bytes.subarray(this.offset) : bytes;
    }
  }
}
