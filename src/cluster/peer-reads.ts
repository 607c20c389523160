/**
 * Replica reads on their way to one peer: quorum reads come one key at a time (one per client
 * request); this gathers the keys of one event-loop turn, and those that come while `maxOutstanding`
 * calls are in flight, into one Read call of up to MAX_READ_KEYS keys (src/rpc/replica-read.ts),
 * instead of a call per key. Each key's callback gets the peer's entry, or an error when the call
 * failed or passed its deadline.
 */
import { asLallyError, type LallyError } from '../errors.js';
import type { ReplicaRecord } from '../rpc/codec.js';
import type { PeerChannel } from '../rpc/peer-channel.js';
import { MAX_READ_KEYS, readReplica } from '../rpc/replica-read.js';

export type ReadDone = (record: ReplicaRecord | undefined, error: LallyError | undefined) => void;

export interface PeerReadsOptions {
  readonly timeoutMs: number;
  readonly maxOutstanding: number;
}

export class PeerReads {
  readonly #channel: PeerChannel;
  readonly #options: PeerReadsOptions;
  #keys: Uint8Array[] = [];
  #callbacks: ReadDone[] = [];
  #scheduled = false;
  #outstanding = 0;
  readonly counters = { keys: 0, calls: 0, failed: 0 };

  constructor(channel: PeerChannel, options: PeerReadsOptions) {
    this.#channel = channel;
    this.#options = options;
  }

  read(key: Uint8Array, done: ReadDone): void {
    this.counters.keys++;
    this.#keys.push(key);
    this.#callbacks.push(done);
    if (this.#keys.length >= MAX_READ_KEYS) this.#flush();
    else this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled || this.#outstanding >= this.#options.maxOutstanding) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    if (this.#keys.length === 0 || this.#outstanding >= this.#options.maxOutstanding) return;
    const keys = this.#keys.splice(0, MAX_READ_KEYS);
    const callbacks = this.#callbacks.splice(0, MAX_READ_KEYS);
    this.#outstanding++;
    this.counters.calls++;
    const settled = () => {
      this.#outstanding--;
      if (this.#keys.length > 0) this.#schedule();
    };
    readReplica(this.#channel, keys, this.#options.timeoutMs).then(
      (records) => {
        settled();
        for (let i = 0; i < callbacks.length; i++) callbacks[i]!(records[i], undefined);
      },
      (error: unknown) => {
        settled();
        this.counters.failed += callbacks.length;
        const lally = asLallyError(error);
        for (const done of callbacks) done(undefined, lally);
      },
    );
  }
}
