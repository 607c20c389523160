/**
 * The doorbell of one thread's inbox: two Int32 slots in a SharedArrayBuffer, shared by every ring
 * that points into that thread.
 *
 * - `SEQUENCE` is bumped by a producer that wakes the consumer; the consumer waits on it.
 * - `SLEEPING` is 1 while the consumer is (about to be) parked. A producer rings only when it sees 1
 *   and clears it itself, so a burst of messages into a sleeping thread rings once, not per message.
 *
 * Why no wake-up is lost: the consumer stores SLEEPING=1 and then re-checks its rings; a producer
 * publishes its message (stores head) and then loads SLEEPING. All of these are sequentially
 * consistent Atomics, so either the producer sees SLEEPING=1 and rings, or the consumer's re-check
 * sees the message. And the consumer waits on the SEQUENCE value it read *before* the re-check, so a
 * ring that lands between the re-check and the wait makes the wait return at once ('not-equal').
 */
const SEQUENCE = 0;
const SLEEPING = 1;
const DOORBELL_SLOTS = 2;

/** `Atomics.waitAsync`: in Node 20 and in es2024's lib, not in the es2023 lib this project targets. */
type WaitAsyncResult =
  | { async: false; value: 'not-equal' | 'timed-out' }
  | { async: true; value: Promise<'ok' | 'timed-out'> };
type WaitAsync = (array: Int32Array, index: number, value: number, timeout?: number) => WaitAsyncResult;
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

export class Doorbell {
  /** The shared memory of one doorbell. */
  static readonly BYTES = DOORBELL_SLOTS * Int32Array.BYTES_PER_ELEMENT;

  readonly #slots: Int32Array;

  static allocate(): SharedArrayBuffer {
    return new SharedArrayBuffer(Doorbell.BYTES);
  }

  constructor(sab: SharedArrayBuffer) {
    this.#slots = new Int32Array(sab, 0, DOORBELL_SLOTS);
  }

  /** Producer side: wakes the consumer if it sleeps. True when this call rang (for the counters). */
  ring(): boolean {
    if (Atomics.load(this.#slots, SLEEPING) === 0) return false;
    // Only the producer that flips 1 -> 0 rings: one notify per sleep, however many producers.
    if (Atomics.compareExchange(this.#slots, SLEEPING, 1, 0) !== 1) return false;
    Atomics.add(this.#slots, SEQUENCE, 1);
    Atomics.notify(this.#slots, SEQUENCE);
    return true;
  }

  /** Consumer side, step 1: read the sequence, then announce sleep. Re-check the rings after this. */
  prepareToSleep(): number {
    const sequence = Atomics.load(this.#slots, SEQUENCE);
    Atomics.store(this.#slots, SLEEPING, 1);
    return sequence;
  }

  /** Consumer side: called when awake (work found on the re-check, or woken), so producers stop ringing. */
  markAwake(): void {
    Atomics.store(this.#slots, SLEEPING, 0);
  }

  /**
   * Consumer side, step 2: resolves when the sequence moves past `sequence` (or at once if it already
   * has). Does not block the event loop, and does not keep it alive either (Node does not count a
   * pending waitAsync as a handle): the caller must hold something that does.
   */
  sleep(sequence: number): Promise<unknown> | undefined {
    const result = waitAsync(this.#slots, SEQUENCE, sequence);
    return result.async ? result.value : undefined;
  }

  /** Wakes this thread's own pending `sleep` (used by close); harmless if nothing waits. */
  wakeSelf(): void {
    Atomics.add(this.#slots, SEQUENCE, 1);
    Atomics.notify(this.#slots, SEQUENCE);
  }

  get isSleeping(): boolean {
    return Atomics.load(this.#slots, SLEEPING) === 1;
  }
}
