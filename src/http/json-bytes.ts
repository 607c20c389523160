/**
 * JSON answers built as UTF-8 bytes, so that a stored value goes from the store (or a ring) to the
 * socket without becoming a JavaScript string: no decode, no JSON.stringify, no encode by uWS.
 *
 * `JsonBytes.string(bytes)` writes the JSON string of the text whose UTF-8 bytes are given, byte for
 * byte what `Buffer.from(JSON.stringify(text))` is. JSON.stringify escapes `"`, `\` and the control
 * characters below U+0020 (`\b \t \n \f \r` short, the others as `\u00xx` in lowercase hex) and lone
 * surrogates; it leaves DEL, U+2028 and U+2029 and every other character as they are. Valid UTF-8 holds
 * no lone surrogate, so the escapes are all ASCII bytes below 0x20 and the two bytes `"` and `\`, and
 * everything else is copied. Bytes that are not valid UTF-8 (the store holds what it was given) are
 * written as decoding them and JSON.stringify would (each bad sequence becomes U+FFFD): that slow path
 * is taken only when a byte >= 0x80 was seen and `isUtf8` says no.
 *
 * The scan reads four bytes at a time (a word with no byte to escape is skipped with a few integer
 * operations) and copies the runs between escapes with TypedArray.set; a value with nothing to escape
 * is copied once, through copyBytes (src/bytes/byte-copy.ts: V8's own copy out of a SharedArrayBuffer
 * goes byte by byte when the two sides are not aligned alike).
 */
import { isUtf8 } from 'node:buffer';
import { copyBytes } from '../bytes/byte-copy.js';
import { decodeUtf8Bytes } from '../kv/value-input.js';

/** Buffer's unchecked UTF-8 methods (see ArenaBytes in src/store/table-layout.ts). */
interface RawBuffer extends Buffer {
  utf8Write(text: string, offset: number, length: number): number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** ESCAPES[b]: the escape JSON.stringify writes for byte b (< 0x20, `"` or `\`), else undefined. */
const ESCAPES: readonly (Uint8Array | undefined)[] = Array.from({ length: 0x80 }, (_, b) =>
  b < 0x20 || b === QUOTE || b === BACKSLASH
    ? Buffer.from(JSON.stringify(String.fromCharCode(b)).slice(1, -1), 'latin1')
    : undefined,
);
/** 1 where a byte needs an escape. */
const NEEDS_ESCAPE = Uint8Array.from({ length: 256 }, (_, b) => (ESCAPES[b] === undefined ? 0 : 1));

/** Values shorter than this are scanned a byte at a time (making a word view costs more). */
const WORD_SCAN_MIN = 64;
/** Runs up to this long are copied by a loop (set() of a subarray costs an object). */
const LOOP_COPY_MAX = 32;
/** Whole arrays up to this long are copied by a loop, longer ones by set() (faster past it, measured). */
const SET_MIN = 8;
/** Word views kept (see #wordView). */
const WORD_VIEWS = 4;
const INITIAL_BYTES = 16 * 1024;
/** A buffer grown past this for one large answer is dropped at the next reset. */
const KEEP_BYTES = 1024 * 1024;

/**
 * A growable output buffer of UTF-8 bytes, reused for every answer of one thread: `reset()`, append,
 * then `view()`, which is valid until the next reset (uWS copies what it is given to end()).
 */
export class JsonBytes {
  #out: RawBuffer = Buffer.allocUnsafeSlow(INITIAL_BYTES) as RawBuffer;
  length = 0;
  readonly #views: Int32Array[] = [];

  #cleanHigh = false;
  /** Shared bytes copied before they are escaped (#privateCopy). */
  #copy: Buffer = Buffer.allocUnsafeSlow(0);

  reset(): this {
    if (this.#out.length > KEEP_BYTES) this.#out = Buffer.allocUnsafeSlow(INITIAL_BYTES) as RawBuffer;
    if (this.#copy.length > KEEP_BYTES) this.#copy = Buffer.allocUnsafeSlow(0);
    this.length = 0;
    return this;
  }

  /** The bytes written since the last reset. */
  view(): Uint8Array {
    return this.#out.subarray(0, this.length);
  }

  #ensure(more: number): RawBuffer {
    const needed = this.length + more;
    if (needed <= this.#out.length) return this.#out;
    let size = this.#out.length * 2;
    while (size < needed) size *= 2;
    const grown = Buffer.allocUnsafeSlow(size) as RawBuffer;
    grown.set(this.#out.subarray(0, this.length));
    this.#out = grown;
    return grown;
  }

  /** Appends bytes as they are (pre-encoded constant parts). */
  bytes(bytes: Uint8Array): this {
    const out = this.#ensure(bytes.length);
    let at = this.length;
    if (bytes.length <= SET_MIN) for (let i = 0; i < bytes.length; i++) out[at++] = bytes[i]!;
    else {
      out.set(bytes, at);
      at += bytes.length;
    }
    this.length = at;
    return this;
  }

  /** Appends text[start, end) as UTF-8 (short ASCII texts by a loop, others by Buffer's encoder). */
  text(text: string, start = 0, end = text.length): this {
    const out = this.#ensure(3 * (end - start));
    let at = this.length;
    let i = start;
    for (; i < end; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0x80) break;
      out[at++] = c;
    }
    if (i < end) at += out.utf8Write(text.slice(i, end), at, out.length - at);
    this.length = at;
    return this;
  }

  /** Appends the JSON string (quoted) of a JavaScript string: JSON.stringify, encoded. */
  stringOfText(text: string): this {
    return this.text(JSON.stringify(text));
  }

  /** Appends the JSON string (quoted) of the text whose UTF-8 bytes are `bytes`. */
  string(bytes: Uint8Array): this {
    const n = bytes.length;
    const shared = n >= WORD_SCAN_MIN && bytes.buffer instanceof SharedArrayBuffer;
    let quoteAt: number;
    let high: boolean;
    if (n >= WORD_SCAN_MIN && this.#clean(bytes)) {
      // Nothing to escape (the usual value): one copy, at memcpy speed even out of shared memory.
      const out = this.#ensure(n + 2);
      quoteAt = this.length;
      out[quoteAt] = QUOTE;
      copyBytes(out, quoteAt + 1, bytes);
      out[quoteAt + n + 1] = QUOTE;
      this.length = quoteAt + n + 2;
      high = this.#cleanHigh;
    } else {
      quoteAt = this.length;
      // Runs between escapes are copied at any alignment: from a private copy of shared memory.
      high = this.#escape(shared ? this.#privateCopy(bytes) : bytes);
    }
    // A byte >= 0x80 was seen: the bytes are copied as they are only if they are valid UTF-8.
    if (high && !isUtf8(bytes)) {
      this.length = quoteAt;
      this.stringOfText(decodeUtf8Bytes(bytes));
    }
    return this;
  }

  /** A copy of shared bytes in this builder's own memory (a plain array is faster to scan). */
  #privateCopy(bytes: Uint8Array): Uint8Array {
    const n = bytes.length;
    if (this.#copy.length < n) this.#copy = Buffer.allocUnsafeSlow(Math.max(2 * this.#copy.length, n));
    copyBytes(this.#copy, 0, bytes);
    return this.#copy.subarray(0, n);
  }

  /** True when no byte of src needs an escape; #cleanHigh then says whether a byte was >= 0x80. */
  #clean(src: Uint8Array): boolean {
    const n = src.length;
    const offset = src.byteOffset;
    const head = (4 - (offset & 3)) & 3;
    let high = 0;
    for (let i = 0; i < head; i++) {
      const b = src[i]!;
      high |= b;
      if (NEEDS_ESCAPE[b] === 1) return false;
    }
    const words = this.#wordView(src);
    const first = (offset + head) >>> 2;
    const end = first + ((n - head) >>> 2);
    for (let w = first; w < end; w++) {
      const x = words[w]!;
      high |= x;
      // Exact tests for "some byte of x is < 0x20 / is 0x22 / is 0x5c" (Hacker's Delight 6-1).
      const q = x ^ 0x22222222;
      const s = x ^ 0x5c5c5c5c;
      if (
        (((((x - 0x20202020) | 0) & ~x) | (((q - 0x01010101) | 0) & ~q) | (((s - 0x01010101) | 0) & ~s)) &
          0x80808080) !==
        0
      ) {
        return false;
      }
    }
    for (let i = head + (end - first) * 4; i < n; i++) {
      const b = src[i]!;
      high |= b;
      if (NEEDS_ESCAPE[b] === 1) return false;
    }
    this.#cleanHigh = (high & 0x80808080) !== 0;
    return true;
  }

  /** Writes `"…"`; true when a byte >= 0x80 was copied. */
  #escape(src: Uint8Array): boolean {
    const n = src.length;
    // Room for the quotes and every byte copied; each escape makes sure of its own extra room.
    let out = this.#ensure(n + 2);
    let at = this.length;
    out[at++] = QUOTE;
    let high = 0;
    let run = 0; // the first byte not copied yet
    let i = 0;
    if (n >= WORD_SCAN_MIN) {
      // Bytes up to a 4-aligned position one by one, then words, then the tail.
      const offset = src.byteOffset;
      const head = (4 - (offset & 3)) & 3;
      const words = this.#wordView(src);
      const first = (offset + head) >>> 2;
      const count = (n - head) >>> 2;
      for (; i < head; i++) {
        const b = src[i]!;
        high |= b;
        if (NEEDS_ESCAPE[b] === 1) {
          ({ out, at } = this.#flush(src, run, i, out, at));
          ({ out, at } = this.#escapeByte(b, n - i - 1, out, at));
          run = i + 1;
        }
      }
      for (let w = 0; w < count; w++) {
        const x = words[first + w]!;
        high |= x;
        // Exact tests for "some byte of x is < 0x20 / is 0x22 / is 0x5c" (Hacker's Delight 6-1).
        const q = x ^ 0x22222222;
        const s = x ^ 0x5c5c5c5c;
        const hit =
          ((((x - 0x20202020) | 0) & ~x) | (((q - 0x01010101) | 0) & ~q) | (((s - 0x01010101) | 0) & ~s)) &
          0x80808080;
        if (hit === 0) continue;
        const base = head + w * 4;
        for (let j = base; j < base + 4; j++) {
          const b = src[j]!;
          if (NEEDS_ESCAPE[b] === 1) {
            ({ out, at } = this.#flush(src, run, j, out, at));
            ({ out, at } = this.#escapeByte(b, n - j - 1, out, at));
            run = j + 1;
          }
        }
      }
      i = head + count * 4;
      high = (high & 0x80808080) !== 0 ? 0x80 : 0;
    }
    for (; i < n; i++) {
      const b = src[i]!;
      high |= b;
      if (NEEDS_ESCAPE[b] === 1) {
        ({ out, at } = this.#flush(src, run, i, out, at));
        ({ out, at } = this.#escapeByte(b, n - i - 1, out, at));
        run = i + 1;
      }
    }
    ({ out, at } = this.#flush(src, run, n, out, at));
    out[at++] = QUOTE;
    this.length = at;
    return (high & 0x80) !== 0;
  }

  /** Copies src[from, to) to out at `at`. */
  #flush(
    src: Uint8Array,
    from: number,
    to: number,
    out: RawBuffer,
    at: number,
  ): { out: RawBuffer; at: number } {
    const length = to - from;
    if (length <= LOOP_COPY_MAX) for (let k = from; k < to; k++) out[at++] = src[k]!;
    else {
      out.set(src.subarray(from, to), at);
      at += length;
    }
    this.#cursor.out = out;
    this.#cursor.at = at;
    return this.#cursor;
  }

  /** Writes the escape of byte b, growing the buffer so that the `left` bytes after it still fit. */
  #escapeByte(b: number, left: number, out: RawBuffer, at: number): { out: RawBuffer; at: number } {
    const sequence = ESCAPES[b]!;
    let buffer = out;
    // +1: the closing quote.
    if (at + sequence.length + left + 1 > buffer.length) {
      this.length = at;
      buffer = this.#ensure(sequence.length + left + 1);
    }
    for (let k = 0; k < sequence.length; k++) buffer[at++] = sequence[k]!;
    this.#cursor.out = buffer;
    this.#cursor.at = at;
    return this.#cursor;
  }

  /** The (out, at) pair the helpers above hand back, one object for all of them. */
  readonly #cursor: { out: RawBuffer; at: number } = { out: this.#out, at: 0 };

  /**
   * An Int32Array over src's whole buffer, from a cache of a few (the arena, a reader's copy, a ring:
   * the inputs of one thread alternate between them). A view is remade when its buffer grew past it.
   */
  #wordView(src: Uint8Array): Int32Array {
    const buffer = src.buffer;
    const end = src.byteOffset + src.length;
    const views = this.#views;
    for (let k = 0; k < views.length; k++) {
      const view = views[k]!;
      if (view.buffer === buffer && view.length * 4 >= end) return view;
    }
    const view = new Int32Array(buffer, 0, Math.floor(buffer.byteLength / 4));
    views.unshift(view);
    if (views.length > WORD_VIEWS) views.pop();
    return view;
  }
}
