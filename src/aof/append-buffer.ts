/**
 * The memory side of ShardAof's hot path: records encoded into large chunks, handed to the pump in
 * slices, never copied again on the way to the disk.
 *
 * `append` is the only call per write: it encodes into the current chunk (no I/O, no promise, no
 * allocation except when a chunk is full). `takeInto` hands every byte not handed out yet to the pump;
 * the current chunk stays in use, and later records go in after the bytes already handed out, so a slice
 * the pump is writing is never overwritten.
 */
import { encodeRecordInto, maxEncodedSize } from './format.js';
import type { AofWrite } from './types.js';

/** Size of a fresh chunk: large enough that a batch is a few writev buffers, small enough to not waste. */
export const CHUNK_BYTES = 256 * 1024;

export class AppendBuffer {
  /** Chunks that filled up before the pump took them (each a slice starting at the first untaken byte). */
  #full: Buffer[] = [];
  #cur = Buffer.allocUnsafe(CHUNK_BYTES);
  /** In #cur: bytes before #curTaken were handed to the pump; bytes up to #curLen are records. */
  #curTaken = 0;
  #curLen = 0;
  #pendingBytes = 0;
  #appended = 0;

  /** Bytes appended and not handed to the pump yet. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** How many records were ever appended: the sequence number of the last one. */
  get appended(): number {
    return this.#appended;
  }

  append(record: AofWrite): void {
    // The bound, not the exact size: a record is never split across chunks, and encoding needs the room.
    const need = maxEncodedSize(record);
    if (this.#cur.length - this.#curLen < need) this.#nextChunk(need);
    const size = encodeRecordInto(this.#cur, this.#curLen, record);
    this.#curLen += size;
    this.#pendingBytes += size;
    this.#appended++;
  }

  /** Moves every pending byte, oldest first, onto the end of `out` (whole records in each buffer). */
  takeInto(out: Buffer[]): void {
    for (const chunk of this.#full) out.push(chunk);
    this.#full = [];
    if (this.#curLen > this.#curTaken) {
      out.push(this.#cur.subarray(this.#curTaken, this.#curLen));
      this.#curTaken = this.#curLen;
    }
    this.#pendingBytes = 0;
  }

  /** Forgets every pending byte (fsync `always` after a failure: none of them was acknowledged). */
  drop(): void {
    this.#full = [];
    this.#curTaken = this.#curLen;
    this.#pendingBytes = 0;
  }

  #nextChunk(need: number): void {
    if (this.#curLen > this.#curTaken) this.#full.push(this.#cur.subarray(this.#curTaken, this.#curLen));
    // A record larger than a chunk gets a chunk of its own size.
    this.#cur = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, need));
    this.#curTaken = 0;
    this.#curLen = 0;
  }
}
