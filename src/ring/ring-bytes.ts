/**
 * The bytes of a ring's data area, whichever ring it is (SpscRing, MpscRing): copies into it that wrap
 * at its end, and views of messages that may wrap. The data area's length is a power of two.
 */
import { copyBytes, zeroBytes } from '../bytes/byte-copy.js';

const EMPTY = new Uint8Array(0);

export class RingBytes {
  readonly #data: Uint8Array;
  /** The same bytes as a Buffer, for copies at memcpy speed (src/bytes/byte-copy.ts). */
  readonly #buffer: Buffer;
  readonly #mask: number;
  /** The largest view ever asked for: bounds the scratch buffer's growth. */
  readonly #maxMessageBytes: number;
  /** Consumer side: reassembles messages that wrap around the end of the buffer. */
  #scratch: Uint8Array = EMPTY;

  constructor(data: Uint8Array, maxMessageBytes: number) {
    this.#data = data;
    this.#buffer = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    this.#mask = data.length - 1;
    this.#maxMessageBytes = maxMessageBytes;
  }

  /** Copies `part` in at data offset `at`, splitting it at the end; returns the next offset. */
  copyIn(part: Uint8Array, at: number): number {
    const length = part.length;
    if (length === 0) return at;
    const data = this.#buffer;
    const room = data.length - at;
    if (length <= room) {
      copyBytes(data, at, part);
    } else {
      copyBytes(data, at, part.subarray(0, room));
      copyBytes(data, 0, part.subarray(room));
    }
    return (at + length) & this.#mask;
  }

  /** Zeroes `length` bytes from data offset `at`, wrapping at the end. */
  zero(at: number, length: number): void {
    const data = this.#buffer;
    const room = data.length - at;
    if (length <= room) {
      zeroBytes(data, at, at + length);
    } else {
      zeroBytes(data, at, data.length);
      zeroBytes(data, 0, length - room);
    }
  }

  /** A zero-copy view when the body is contiguous, else the body reassembled in the scratch buffer. */
  view(at: number, length: number): Uint8Array {
    const data = this.#data;
    const room = data.length - at;
    if (length <= room) return data.subarray(at, at + length);
    if (this.#scratch.length < length) {
      this.#scratch = new Uint8Array(
        Math.min(this.#maxMessageBytes, Math.max(length, this.#scratch.length * 2)),
      );
    }
    const scratch = this.#scratch;
    scratch.set(data.subarray(at), 0);
    scratch.set(data.subarray(0, length - room), room);
    return scratch.subarray(0, length);
  }
}
