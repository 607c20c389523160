/**
 * A single-producer/single-consumer byte ring over a SharedArrayBuffer: the transport of every hop
 * between two threads (see docs/rings.md for the layout and the memory-ordering argument).
 *
 * One thread writes, one thread reads; both construct a `SpscRing` over the same buffer. Messages
 * are framed as a u32 length then the bytes, each record padded to 4 bytes so that the length word
 * never straddles the end of the buffer (the body may: it is split on write and reassembled on read).
 */
import { ErrorCodes, LallyError } from '../errors.js';
import { RingBytes } from './ring-bytes.js';

/** Header slots, in Int32 units. Head and tail sit on separate 64-byte lines to avoid false sharing. */
const HEAD = 0; // producer-owned: total bytes ever written (free-running u32)
const CAPACITY = 1; // set once by `allocate`, read-only afterwards
const MAGIC = 2; // tells a ring buffer apart from some other SharedArrayBuffer
const TAIL = 16; // consumer-owned: total bytes ever consumed (free-running u32), at byte 64

export const RING_HEADER_BYTES = 128;
const RING_MAGIC = 0x4c52_4e47; // 'LRNG'
const LENGTH_BYTES = 4;
const MIN_CAPACITY = 8;
/** Keeps `head - tail` unambiguous in 32-bit arithmetic. */
const MAX_CAPACITY = 2 ** 30;

const EMPTY = new Uint8Array(0);

/** The bytes a message of `length` bytes occupies in the ring: length word, body, padding to 4. */
export function recordBytes(length: number): number {
  return LENGTH_BYTES + ((length + 3) & ~3);
}

export class SpscRing {
  /** Bytes of the data area (a power of two). */
  readonly capacity: number;
  /** The largest message that can ever fit; a larger one is an error, not back-pressure. */
  readonly maxMessageBytes: number;

  readonly #header: Int32Array;
  /** The data area as u32 words, for the aligned length prefixes (native byte order). */
  readonly #words: Uint32Array;
  readonly #mask: number;
  /** Producer side: the last tail seen, so a write only reloads it when space looks short. */
  #cachedTail: number;
  /** Copies in and views out that wrap at the end of the data area. */
  readonly #bytes: RingBytes;

  /** A zeroed buffer for a ring of `capacityBytes` data bytes (a power of two, 8 to 2^30). */
  static allocate(capacityBytes: number): SharedArrayBuffer {
    if (
      !Number.isInteger(capacityBytes) ||
      capacityBytes < MIN_CAPACITY ||
      capacityBytes > MAX_CAPACITY ||
      (capacityBytes & (capacityBytes - 1)) !== 0
    ) {
      throw new LallyError(
        ErrorCodes.CONFIG,
        `ring capacity must be a power of two between ${MIN_CAPACITY} and ${MAX_CAPACITY}, got ${capacityBytes}`,
      );
    }
    const sab = new SharedArrayBuffer(RING_HEADER_BYTES + capacityBytes);
    const header = new Int32Array(sab, 0, RING_HEADER_BYTES / 4);
    header[CAPACITY] = capacityBytes;
    header[MAGIC] = RING_MAGIC;
    return sab;
  }

  constructor(sab: SharedArrayBuffer) {
    const header = new Int32Array(sab, 0, RING_HEADER_BYTES / 4);
    const capacity = Atomics.load(header, CAPACITY);
    if (Atomics.load(header, MAGIC) !== RING_MAGIC || sab.byteLength !== RING_HEADER_BYTES + capacity) {
      throw new LallyError(ErrorCodes.INTERNAL, 'not a ring buffer (use SpscRing.allocate)');
    }
    this.capacity = capacity;
    this.maxMessageBytes = capacity - LENGTH_BYTES;
    this.#header = header;
    this.#bytes = new RingBytes(new Uint8Array(sab, RING_HEADER_BYTES, capacity), this.maxMessageBytes);
    this.#words = new Uint32Array(sab, RING_HEADER_BYTES, capacity / 4);
    this.#mask = capacity - 1;
    this.#cachedTail = Atomics.load(header, TAIL);
  }

  /** Bytes currently held (records with their framing). Exact on either end, approximate elsewhere. */
  get usedBytes(): number {
    return (Atomics.load(this.#header, HEAD) - Atomics.load(this.#header, TAIL)) >>> 0;
  }

  get isEmpty(): boolean {
    return Atomics.load(this.#header, HEAD) === Atomics.load(this.#header, TAIL);
  }

  /** Writes the whole message or nothing: false when the ring lacks room right now. */
  tryWrite(message: Uint8Array): boolean {
    return this.tryWriteParts(message);
  }

  /**
   * Writes one message made of up to three parts (say a header, the key, the value) without
   * concatenating them first. Fixed arity rather than a rest parameter, so the hot path allocates
   * nothing.
   */
  tryWriteParts(first: Uint8Array, second: Uint8Array = EMPTY, third: Uint8Array = EMPTY): boolean {
    const length = first.length + second.length + third.length;
    if (length > this.maxMessageBytes) {
      throw new LallyError(
        ErrorCodes.VALUE_TOO_LARGE,
        `a ${length}-byte message can never fit a ring of ${this.capacity} bytes (max ${this.maxMessageBytes})`,
      );
    }
    const record = recordBytes(length);
    // Only the producer moves head, so a plain read of our own value would do; Atomics keeps it uniform.
    const head = Atomics.load(this.#header, HEAD);
    if (((head - this.#cachedTail) >>> 0) + record > this.capacity) {
      this.#cachedTail = Atomics.load(this.#header, TAIL);
      if (((head - this.#cachedTail) >>> 0) + record > this.capacity) return false;
    }
    const start = head & this.#mask;
    this.#words[start >>> 2] = length;
    let at = (start + LENGTH_BYTES) & this.#mask;
    at = this.#bytes.copyIn(first, at);
    at = this.#bytes.copyIn(second, at);
    this.#bytes.copyIn(third, at);
    // Publishing head is the release: every byte above is visible to a consumer that loads it.
    Atomics.store(this.#header, HEAD, (head + record) | 0);
    return true;
  }

  /**
   * Hands every available message (up to `maxMessages`) to `onMessage`, then advances the tail once.
   * The view is valid only during the call: it points into the ring or into a reused scratch buffer.
   * If `onMessage` throws, the messages before it and the one it threw on count as consumed (a message
   * that always throws must not wedge the ring), and the error propagates.
   */
  drain(onMessage: (message: Uint8Array) => void, maxMessages = Number.POSITIVE_INFINITY): number {
    const header = this.#header;
    // Loading head is the acquire that makes the producer's bytes visible.
    const head = Atomics.load(header, HEAD);
    let tail = Atomics.load(header, TAIL);
    let count = 0;
    try {
      while (tail !== head && count < maxMessages) {
        const start = tail & this.#mask;
        const length = this.#words[start >>> 2]!;
        const body = (start + LENGTH_BYTES) & this.#mask;
        tail = (tail + recordBytes(length)) | 0;
        count++;
        onMessage(this.#bytes.view(body, length));
      }
    } finally {
      // Releasing the space: the producer may overwrite it once it loads this tail.
      Atomics.store(header, TAIL, tail);
    }
    return count;
  }
}
