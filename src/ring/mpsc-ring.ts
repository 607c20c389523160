/**
 * A multi-producer/single-consumer byte ring over a SharedArrayBuffer: the one inbound ring of a
 * thread, written by every other thread (see docs/rings.md, "One inbound ring per thread", for the
 * layout and the memory-ordering argument).
 *
 * With one ring per receiving thread instead of one per directed pair, a node of T threads holds T
 * rings, not T(T-1): ring memory grows linearly with the shard count.
 *
 * A record is an 8-byte header (a commit word: length + 1, 0 while unwritten; the sender's thread id)
 * then the body, padded to 4 bytes. A producer reserves its record with a compare-and-swap on `head`,
 * writes the sender and the body with plain stores, and publishes the record by storing the commit
 * word last. The consumer reads records in order and stops at the first commit word that is still 0,
 * so a record reserved but not yet written (its producer is between the CAS and the commit) holds up
 * the records behind it, never corrupts them. The consumer zeroes what it consumed before it releases
 * the space (stores `tail`), so every commit word a later producer can reserve reads 0 until written:
 * stale value bytes can never pass for a commit word.
 */
import { ErrorCodes, LallyError } from '../errors.js';
import { RingBytes } from './ring-bytes.js';

/** Header slots, in Int32 units. Head and tail sit on separate 64-byte lines to avoid false sharing. */
const HEAD = 0; // producers: total bytes ever reserved (free-running u32), moved by CAS
const CAPACITY = 1; // set once by `allocate`, read-only afterwards
const MAGIC = 2; // tells this ring apart from an SpscRing or some other SharedArrayBuffer
const TAIL = 16; // consumer-owned: total bytes ever consumed (free-running u32), at byte 64

export const MPSC_HEADER_BYTES = 128;
const MPSC_MAGIC = 0x4c4d_5053; // 'LMPS'
/** Commit word then sender id. */
export const MPSC_RECORD_HEADER_BYTES = 8;
const MIN_CAPACITY = 16;
/** Keeps `head - tail` unambiguous in 32-bit arithmetic. */
const MAX_CAPACITY = 2 ** 30;

/** The bytes a message of `length` bytes occupies: commit word, sender, body, padding to 4. */
export function mpscRecordBytes(length: number): number {
  return MPSC_RECORD_HEADER_BYTES + ((length + 3) & ~3);
}

/** Whether `sab` was made by `MpscRing.allocate` (the Outbox and Inbox accept both ring kinds). */
export function isMpscRing(sab: SharedArrayBuffer): boolean {
  if (sab.byteLength < MPSC_HEADER_BYTES) return false;
  return Atomics.load(new Int32Array(sab, 0, 4), MAGIC) === MPSC_MAGIC;
}

export type MpscHandler = (message: Uint8Array, from: number) => void;

const EMPTY = new Uint8Array(0);

export class MpscRing {
  /** Bytes of the data area (a power of two). */
  readonly capacity: number;
  /** The largest message that can ever fit; a larger one is an error, not back-pressure. */
  readonly maxMessageBytes: number;

  readonly #header: Int32Array;
  /** The data area as Int32 words: commit words are read and written with Atomics. */
  readonly #words: Int32Array;
  readonly #mask: number;
  /** Copies in and views out that wrap at the end of the data area. */
  readonly #bytes: RingBytes;

  /** A zeroed buffer for a ring of `capacityBytes` data bytes (a power of two, 16 to 2^30). */
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
    const sab = new SharedArrayBuffer(MPSC_HEADER_BYTES + capacityBytes);
    const header = new Int32Array(sab, 0, MPSC_HEADER_BYTES / 4);
    header[CAPACITY] = capacityBytes;
    header[MAGIC] = MPSC_MAGIC;
    return sab;
  }

  constructor(sab: SharedArrayBuffer) {
    if (!isMpscRing(sab)) {
      throw new LallyError(ErrorCodes.INTERNAL, 'not a multi-producer ring buffer (use MpscRing.allocate)');
    }
    const header = new Int32Array(sab, 0, MPSC_HEADER_BYTES / 4);
    const capacity = Atomics.load(header, CAPACITY);
    if (sab.byteLength !== MPSC_HEADER_BYTES + capacity) {
      throw new LallyError(ErrorCodes.INTERNAL, 'a multi-producer ring buffer of the wrong size');
    }
    this.capacity = capacity;
    this.maxMessageBytes = capacity - MPSC_RECORD_HEADER_BYTES;
    this.#header = header;
    this.#bytes = new RingBytes(new Uint8Array(sab, MPSC_HEADER_BYTES, capacity), this.maxMessageBytes);
    this.#words = new Int32Array(sab, MPSC_HEADER_BYTES, capacity / 4);
    this.#mask = capacity - 1;
  }

  /** Bytes reserved and not yet consumed (records with their framing). Approximate off the consumer. */
  get usedBytes(): number {
    return (Atomics.load(this.#header, HEAD) - Atomics.load(this.#header, TAIL)) >>> 0;
  }

  /** Consumer side: true when the next record is not committed (none, or one still being written). */
  get isEmpty(): boolean {
    const tail = Atomics.load(this.#header, TAIL);
    return Atomics.load(this.#words, (tail & this.#mask) >>> 2) === 0;
  }

  /**
   * Writes one message from thread `from`, made of up to three parts, or nothing: false when the ring
   * lacks room right now. Safe from any number of threads at once.
   */
  tryWriteParts(
    from: number,
    first: Uint8Array,
    second: Uint8Array = EMPTY,
    third: Uint8Array = EMPTY,
  ): boolean {
    const length = first.length + second.length + third.length;
    if (length > this.maxMessageBytes) {
      throw new LallyError(
        ErrorCodes.VALUE_TOO_LARGE,
        `a ${length}-byte message can never fit a ring of ${this.capacity} bytes (max ${this.maxMessageBytes})`,
      );
    }
    const record = mpscRecordBytes(length);
    const header = this.#header;
    let head: number;
    for (;;) {
      head = Atomics.load(header, HEAD);
      // The tail is loaded fresh every time: with several producers, a cached tail could be so stale
      // that `head - tail` wrapped past 2^32 and looked small.
      if (((head - Atomics.load(header, TAIL)) >>> 0) + record > this.capacity) return false;
      if (Atomics.compareExchange(header, HEAD, head, (head + record) | 0) === head) break;
    }
    const start = head & this.#mask;
    const words = this.#words;
    const wordMask = this.#mask >>> 2;
    words[((start >>> 2) + 1) & wordMask] = from;
    let at = (start + MPSC_RECORD_HEADER_BYTES) & this.#mask;
    at = this.#bytes.copyIn(first, at);
    at = this.#bytes.copyIn(second, at);
    this.#bytes.copyIn(third, at);
    // The commit word is the release: every byte above is visible to a consumer that loads it.
    Atomics.store(words, start >>> 2, length + 1);
    return true;
  }

  /**
   * Hands every committed message (up to `maxMessages`) to `onMessage` with its sender, then zeroes
   * the space and advances the tail once. The view is valid only during the call. If `onMessage`
   * throws, the messages before it and the one it threw on count as consumed, and the error propagates.
   */
  drain(onMessage: MpscHandler, maxMessages = Number.POSITIVE_INFINITY): number {
    const header = this.#header;
    const words = this.#words;
    const mask = this.#mask;
    const wordMask = mask >>> 2;
    const start = Atomics.load(header, TAIL);
    // Records reserved by now, at most a full ring: without this bound, a full ring would lead the
    // loop back to its first record (not zeroed until the batch ends) and round again.
    const head = Atomics.load(header, HEAD);
    let tail = start;
    let count = 0;
    try {
      while (tail !== head && count < maxMessages) {
        const at = tail & mask;
        // Loading the commit word is the acquire that makes the producer's bytes visible.
        const commit = Atomics.load(words, at >>> 2);
        if (commit === 0) break;
        const length = commit - 1;
        const from = words[((at >>> 2) + 1) & wordMask]!;
        tail = (tail + mpscRecordBytes(length)) | 0;
        count++;
        onMessage(this.#bytes.view((at + MPSC_RECORD_HEADER_BYTES) & mask, length), from);
      }
    } finally {
      if (tail !== start) {
        this.#bytes.zero(start & mask, (tail - start) >>> 0);
        // Releasing the space: zeroed before any producer can reserve it again.
        Atomics.store(header, TAIL, tail);
      }
    }
    return count;
  }
}

/** One producer's end of an MpscRing: the sender id bound, so an Outbox writes to it like an SpscRing. */
export class MpscProducer {
  readonly #ring: MpscRing;
  readonly #from: number;

  constructor(sab: SharedArrayBuffer, from: number) {
    this.#ring = new MpscRing(sab);
    this.#from = from;
  }

  get capacity(): number {
    return this.#ring.capacity;
  }

  get maxMessageBytes(): number {
    return this.#ring.maxMessageBytes;
  }

  tryWrite(message: Uint8Array): boolean {
    return this.#ring.tryWriteParts(this.#from, message);
  }

  tryWriteParts(first: Uint8Array, second: Uint8Array = EMPTY, third: Uint8Array = EMPTY): boolean {
    return this.#ring.tryWriteParts(this.#from, first, second, third);
  }
}
