/**
 * A bounded FIFO of owned message copies: where an outbox keeps what did not fit its ring. Bounded
 * both in messages and in bytes, so a stalled consumer costs a known amount of memory.
 */
/** Replaces a sent message in the array so that it can be collected before compaction. */
const EMPTY_SLOT = new Uint8Array(0);

export class OverflowQueue {
  readonly maxMessages: number;
  readonly maxBytes: number;
  /** An array with a moving start: O(1) shift without a linked list, compacted when half is dead. */
  #items: Uint8Array[] = [];
  #start = 0;
  #bytes = 0;

  constructor(maxMessages: number, maxBytes: number) {
    this.maxMessages = maxMessages;
    this.maxBytes = maxBytes;
  }

  get length(): number {
    return this.#items.length - this.#start;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Copies the parts into one owned buffer and queues it; false (nothing queued) when over a bound. */
  tryPush(first: Uint8Array, second: Uint8Array, third: Uint8Array): boolean {
    const size = first.length + second.length + third.length;
    if (this.length + 1 > this.maxMessages || this.#bytes + size > this.maxBytes) return false;
    const copy = new Uint8Array(size);
    copy.set(first, 0);
    copy.set(second, first.length);
    copy.set(third, first.length + second.length);
    this.#items.push(copy);
    this.#bytes += size;
    return true;
  }

  peek(): Uint8Array | undefined {
    return this.#items[this.#start];
  }

  shift(): void {
    const item = this.#items[this.#start];
    if (item === undefined) return;
    this.#items[this.#start] = EMPTY_SLOT;
    this.#start++;
    this.#bytes -= item.length;
    if (this.#start === this.#items.length) {
      this.#items = [];
      this.#start = 0;
    } else if (this.#start > 1024 && this.#start * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#start);
      this.#start = 0;
    }
  }
}
