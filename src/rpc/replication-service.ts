/**
 * The receiving side of replication: the Replicate stream's handler. Batches are checked, applied one
 * after another in arrival order (the applier hands them to the owning shards and resolves once they
 * are durable as the fsync policy says), and acknowledged in that order. While `maxPending` batches
 * wait, the stream is paused, so HTTP/2 flow control slows the sender; an ack write that returns
 * false waits for 'drain'. A bad batch or a failed apply ends the stream with the error's status.
 */
import type { handleBidiStreamingCall, ServerDuplexStream } from '@grpc/grpc-js';
import { checkReplicateBatch, type ReplicaRecord, type ReplicateAck, type ReplicateBatch } from './codec.js';
import { toStatusError } from './rpc-errors.js';
import { drained } from './stream-flow.js';

export interface ApplyResult {
  /** Records that won last-writer-wins and were written. */
  readonly applied: number;
  /** Records that lost to a newer local version (nothing written; still a success). */
  readonly superseded: number;
}

/** Applies one batch; `peer` is the stream's remote address (for logs: a refusal names it). */
export type ApplyBatch = (
  records: readonly ReplicaRecord[],
  peer: string,
) => ApplyResult | Promise<ApplyResult>;

export interface ReplicateHandlerOptions {
  /** Batches received and not yet applied before the stream is paused. */
  readonly maxPending?: number;
}

export function replicateHandler(
  apply: ApplyBatch,
  options: ReplicateHandlerOptions = {},
): handleBidiStreamingCall<ReplicateBatch, ReplicateAck> {
  const maxPending = options.maxPending ?? 4;
  return (call: ServerDuplexStream<ReplicateBatch, ReplicateAck>) => {
    const queue: ReplicateBatch[] = [];
    let running = false;
    let ended = false;
    let stopped = false;
    const peer = call.getPeer();

    const run = async (): Promise<void> => {
      if (running || stopped) return;
      running = true;
      try {
        while (queue.length > 0 && !stopped) {
          const batch = queue.shift()!;
          checkReplicateBatch(batch);
          const result = await apply(batch.records, peer);
          if (stopped) return;
          const ack: ReplicateAck = {
            batchId: batch.batchId,
            applied: result.applied,
            superseded: result.superseded,
          };
          if (!call.write(ack)) await drained(call);
          if (queue.length < maxPending && call.isPaused()) call.resume();
        }
        if (ended && !stopped) {
          stopped = true;
          call.end();
        }
      } catch (error) {
        if (!stopped) {
          stopped = true;
          call.emit('error', toStatusError(error));
        }
      } finally {
        running = false;
      }
    };

    call.on('data', (batch: ReplicateBatch) => {
      queue.push(batch);
      if (queue.length >= maxPending) call.pause();
      void run();
    });
    call.on('end', () => {
      ended = true;
      void run();
    });
    call.on('cancelled', () => {
      stopped = true;
    });
  };
}
