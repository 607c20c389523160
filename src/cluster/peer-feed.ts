/**
 * The records on their way to one peer. Writes come one at a time (one per client request); the feed
 * gathers them into sends on the peer's replication stream, which cuts them into bounded batches
 * (src/rpc/replication-stream.ts). At most `maxOutstanding` sends wait for their acks: records that
 * come meanwhile wait here and leave together with the next send, so under load batches grow with
 * the peer's round trip (a few large messages instead of many small ones, which the stream's window
 * of batches would otherwise throttle), and at low load a record leaves within one event-loop turn.
 * Each record's callback learns whether the peer acknowledged it.
 *
 * Memory is bounded: past `maxQueuedRecords` records waiting (queued here or unacknowledged on the
 * stream) a record fails at once, as it does while the stream is down and backing off: the write's
 * answer counts one replica fewer instead of waiting for a peer that does not keep up.
 */
import type { ReplicaRecord } from '../rpc/codec.js';
import type { ReplicationStream } from '../rpc/replication-stream.js';

export type RecordDone = (acknowledged: boolean) => void;

export interface PeerFeedOptions {
  readonly maxQueuedRecords: number;
  /** Sends on the stream not yet acknowledged, past which records wait for the next send. */
  readonly maxOutstanding: number;
}

export const DEFAULT_PEER_FEED: PeerFeedOptions = Object.freeze({
  maxQueuedRecords: 65_536,
  maxOutstanding: 2,
});

export class PeerFeed {
  readonly address: string;
  readonly #stream: ReplicationStream;
  readonly #options: PeerFeedOptions;
  #records: ReplicaRecord[] = [];
  #callbacks: RecordDone[] = [];
  #scheduled = false;
  /** Records handed to the stream and not yet acknowledged or failed. */
  #unacknowledged = 0;
  /** Sends handed to the stream and not yet settled. */
  #outstanding = 0;
  /** records: pushed; sends: handed to the stream (records / sends is the mean batch). */
  readonly counters = { records: 0, sends: 0, acknowledged: 0, failed: 0, refused: 0 };

  constructor(address: string, stream: ReplicationStream, options: Partial<PeerFeedOptions> = {}) {
    this.address = address;
    this.#stream = stream;
    this.#options = { ...DEFAULT_PEER_FEED, ...options };
  }

  get stream(): ReplicationStream {
    return this.#stream;
  }

  /** Records queued here or in flight on the stream. */
  get backlog(): number {
    return this.#records.length + this.#unacknowledged;
  }

  /** Queues one record; `done` runs later (never inside this call). */
  push(record: ReplicaRecord, done: RecordDone): void {
    this.counters.records++;
    if (this.backlog >= this.#options.maxQueuedRecords) {
      this.counters.refused++;
      queueMicrotask(() => done(false));
      return;
    }
    this.#records.push(record);
    this.#callbacks.push(done);
    this.#schedule();
  }

  /** A flush at the end of this turn, unless the sends in flight are at their bound (an ack flushes). */
  #schedule(): void {
    if (this.#scheduled || this.#outstanding >= this.#options.maxOutstanding) return;
    this.#scheduled = true;
    setImmediate(() => this.#flush());
  }

  #flush(): void {
    this.#scheduled = false;
    const records = this.#records;
    const callbacks = this.#callbacks;
    if (records.length === 0 || this.#outstanding >= this.#options.maxOutstanding) return;
    this.#records = [];
    this.#callbacks = [];
    this.#unacknowledged += records.length;
    this.#outstanding++;
    this.counters.sends++;
    const settle = (acknowledged: boolean) => {
      this.#unacknowledged -= records.length;
      this.#outstanding--;
      if (acknowledged) this.counters.acknowledged += records.length;
      else this.counters.failed += records.length;
      for (const done of callbacks) done(acknowledged);
      if (this.#records.length > 0) this.#schedule();
    };
    this.#stream.send(records).then(
      () => settle(true),
      () => settle(false),
    );
  }

  /** Fails what is queued and ends the stream (the member left or the node stops). */
  destroy(): void {
    const callbacks = this.#callbacks;
    this.#records = [];
    this.#callbacks = [];
    for (const done of callbacks) done(false);
    this.#stream.destroy();
  }
}
