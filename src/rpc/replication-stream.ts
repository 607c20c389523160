/**
 * The sending side of replication to one peer: one long-lived Replicate stream on the peer's pooled
 * channel, carrying records in batches (bounded in records and bytes) and counting the peer's per-batch
 * acks, which come in batch order. At most `maxInFlight` batches are unacknowledged, and a write that
 * returns false waits for 'drain': a slow peer slows its sender, never grows its memory.
 *
 * When the stream breaks (peer gone, keepalive timeout, a refusal), every batch not yet acknowledged
 * fails with the mapped LallyError, and sends fail fast with LALLY_ERR_PEER_UNAVAILABLE until the
 * back-off delay passed; the next send then opens a new stream. What to do with the failed records
 * (hints, a later catch-up) is the coordinator's call, so nothing is retried here.
 */
import type { ClientDuplexStream } from '@grpc/grpc-js';
import { ErrorCodes, LallyError } from '../errors.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import type { ReplicaRecord, ReplicateAck, ReplicateBatch } from './codec.js';
import type { PeerChannel } from './peer-channel.js';
import { ReplicationService } from './services.js';

export interface ReplicationStreamOptions {
  readonly maxBatchRecords: number;
  /** Bytes of keys and values in one batch (a batch holds at least one record, whatever its size). */
  readonly maxBatchBytes: number;
  /** Batches sent and not yet acknowledged. */
  readonly maxInFlight: number;
  readonly backoff: Partial<BackoffOptions>;
  readonly now: () => number;
}

export const DEFAULT_REPLICATION_STREAM: ReplicationStreamOptions = Object.freeze({
  maxBatchRecords: 1024,
  maxBatchBytes: 1024 * 1024,
  maxInFlight: 8,
  backoff: {},
  now: () => Date.now(),
});

// Per-record overhead on the wire besides key and value bytes: tags, lengths and the version.
const RECORD_OVERHEAD = 24;

interface Pending {
  readonly batch: ReplicateBatch;
  readonly resolve: (ack: ReplicateAck) => void;
  readonly reject: (error: LallyError) => void;
}

export interface ReplicationStreamStats {
  batches: number;
  records: number;
  acks: number;
  failures: number;
  streamsOpened: number;
  /** Times a write found the stream's buffer full and waited for 'drain'. */
  drainWaits: number;
}

export class ReplicationStream {
  readonly stats: ReplicationStreamStats = {
    batches: 0,
    records: 0,
    acks: 0,
    failures: 0,
    streamsOpened: 0,
    drainWaits: 0,
  };
  readonly #channel: PeerChannel;
  readonly #options: ReplicationStreamOptions;
  readonly #backoff: Backoff;
  readonly #queued: Pending[] = [];
  readonly #inFlight: Pending[] = [];
  #call: ClientDuplexStream<ReplicateBatch, ReplicateAck> | undefined;
  #nextBatchId = 1;
  #waitingForDrain = false;
  #retryAt = 0;
  #closed = false;
  #idle: (() => void) | undefined;

  constructor(channel: PeerChannel, options: Partial<ReplicationStreamOptions> = {}) {
    this.#channel = channel;
    this.#options = { ...DEFAULT_REPLICATION_STREAM, ...options };
    this.#backoff = new Backoff(this.#options.backoff);
  }

  /** Batches queued or unacknowledged. */
  get pending(): number {
    return this.#queued.length + this.#inFlight.length;
  }

  /**
   * Sends `records` (in order, as one or more batches) and resolves once the peer acknowledged all
   * of them, with the counts summed; rejects with the stream's error if it broke first.
   */
  send(records: readonly ReplicaRecord[]): Promise<ReplicateAck> {
    if (this.#closed) {
      return Promise.reject(new LallyError(ErrorCodes.SHUTTING_DOWN, 'the replication stream is closed'));
    }
    const wait = this.#retryAt - this.#options.now();
    if (wait > 0) {
      return Promise.reject(
        new LallyError(
          ErrorCodes.PEER_UNAVAILABLE,
          `replication to ${this.#channel.address} is down; next attempt in ${wait} ms`,
        ),
      );
    }
    const acks: Promise<ReplicateAck>[] = [];
    const { maxBatchRecords, maxBatchBytes } = this.#options;
    let start = 0;
    while (start < records.length) {
      let end = start;
      let bytes = 0;
      while (end < records.length && end - start < maxBatchRecords) {
        const r = records[end]!;
        const size = r.key.length + r.value.length + RECORD_OVERHEAD;
        if (end > start && bytes + size > maxBatchBytes) break;
        bytes += size;
        end++;
      }
      acks.push(this.#enqueue(start === 0 && end === records.length ? records : records.slice(start, end)));
      start = end;
    }
    this.#pump();
    if (acks.length === 1) return acks[0]!;
    return Promise.all(acks).then((all) => {
      let applied = 0;
      let superseded = 0;
      for (const a of all) {
        applied += a.applied;
        superseded += a.superseded;
      }
      return { batchId: all[all.length - 1]?.batchId ?? 0, applied, superseded };
    });
  }

  /**
   * Ends the back-off: the next send opens a stream at once (the peer is known to be back, say it
   * restarted; waiting out a delay grown while it was dead would fail its writes for nothing).
   */
  retryNow(): void {
    this.#retryAt = 0;
    this.#backoff.reset();
  }

  /** Waits for every batch to be acknowledged (or failed), then ends the stream. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.pending > 0) await new Promise<void>((resolve) => (this.#idle = resolve));
    this.#call?.end();
    this.#call = undefined;
  }

  /** Ends the stream now: what is not acknowledged fails. */
  destroy(): void {
    this.#closed = true;
    this.#fail(new LallyError(ErrorCodes.SHUTTING_DOWN, 'the replication stream was closed'));
  }

  #enqueue(records: readonly ReplicaRecord[]): Promise<ReplicateAck> {
    return new Promise((resolve, reject) => {
      this.#queued.push({ batch: { batchId: this.#nextBatchId++, records }, resolve, reject });
    });
  }

  #pump(): void {
    if (this.#waitingForDrain) return;
    while (this.#queued.length > 0 && this.#inFlight.length < this.#options.maxInFlight) {
      const call = this.#call ?? this.#open();
      const next = this.#queued.shift()!;
      this.#inFlight.push(next);
      this.stats.batches++;
      this.stats.records += next.batch.records.length;
      if (!call.write(next.batch)) {
        this.#waitingForDrain = true;
        this.stats.drainWaits++;
        call.once('drain', () => {
          this.#waitingForDrain = false;
          if (this.#call === call) this.#pump();
        });
        return;
      }
    }
  }

  #open(): ClientDuplexStream<ReplicateBatch, ReplicateAck> {
    const call = this.#channel.duplex(ReplicationService.replicate);
    this.stats.streamsOpened++;
    call.on('data', (ack: ReplicateAck) => {
      if (this.#call === call) this.#onAck(ack);
    });
    call.on('error', (error: unknown) => {
      if (this.#call === call) this.#fail(this.#channel.callError(error, ReplicationService.replicate));
    });
    call.on('end', () => {
      if (this.#call !== call) return;
      if (this.pending > 0) {
        this.#fail(new LallyError(ErrorCodes.PEER_UNAVAILABLE, `${this.#channel.address} ended the stream`));
      } else {
        this.#call = undefined;
      }
    });
    this.#call = call;
    return call;
  }

  #onAck(ack: ReplicateAck): void {
    const head = this.#inFlight.shift();
    if (head === undefined || head.batch.batchId !== ack.batchId) {
      this.#fail(
        new LallyError(
          ErrorCodes.INTERNAL,
          `${this.#channel.address} acknowledged batch ${ack.batchId}, expected ${head?.batch.batchId}`,
        ),
      );
      return;
    }
    this.stats.acks++;
    this.#backoff.reset();
    head.resolve(ack);
    if (this.pending === 0) this.#idle?.();
    this.#pump();
  }

  #fail(error: LallyError): void {
    const call = this.#call;
    this.#call = undefined;
    this.#waitingForDrain = false;
    call?.cancel();
    const failed = [...this.#inFlight, ...this.#queued];
    this.#inFlight.length = 0;
    this.#queued.length = 0;
    if (failed.length > 0 || call !== undefined) {
      this.stats.failures++;
      this.#retryAt = this.#options.now() + this.#backoff.next();
    }
    for (const p of failed) p.reject(error);
    this.#idle?.();
  }
}
