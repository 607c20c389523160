/**
 * Join and handoff transfers: the records a node holds in some ring ranges, streamed as bounded pages
 * (never one giant message). The server asks its page reader for one page at a time and writes it
 * with back-pressure, so a slow joiner slows the reads instead of filling memory; the client iterates
 * the pages (a `for await` pauses the stream between pages). Each page carries a cursor: a broken
 * transfer resumes from the last page received.
 */
import type { handleServerStreamingCall, ServerWritableStream } from '@grpc/grpc-js';
import { ErrorCodes, LallyError } from '../errors.js';
import { checkRecord, type ReplicaRecord } from './codec.js';
import type { lally } from './generated/lally.js';
import type { PeerChannel } from './peer-channel.js';
import { toSafeNumber } from './protobuf-numbers.js';
import { toStatusError } from './rpc-errors.js';
import { ReplicationService } from './services.js';
import { writeWithBackpressure } from './stream-flow.js';

export interface RingRange {
  readonly start: number;
  /** Exclusive, up to 2^32. */
  readonly end: number;
}

export interface PageQuery {
  /** Empty: every range. */
  readonly ranges: readonly RingRange[];
  /** Empty: from the start. */
  readonly cursor: Uint8Array;
  readonly maxRecords: number;
  readonly maxBytes: number;
}

export interface SnapshotPage {
  readonly records: readonly ReplicaRecord[];
  readonly cursor: Uint8Array;
  readonly last: boolean;
  /** Records the sender expects to send in all, 0 if unknown. */
  readonly total: number;
}

/** Reads one page of the node's records (the wiring asks the shards). */
export type ReadPage = (query: PageQuery) => Promise<SnapshotPage>;

export const PAGE_LIMITS = Object.freeze({
  defaultRecords: 4096,
  maxRecords: 16_384,
  defaultBytes: 1024 * 1024,
  maxBytes: 4 * 1024 * 1024,
});

function clamp(asked: number | null | undefined, fallback: number, max: number): number {
  return asked === undefined || asked === null || asked === 0 ? fallback : Math.min(asked, max);
}

function parseRanges(ranges: readonly lally.v1.RingRange.$Properties[] | null | undefined): RingRange[] {
  return (ranges ?? []).map((r, i) => {
    const start = r.start ?? 0;
    const end = toSafeNumber(r.end ?? 0);
    if (!(start < end && end <= 2 ** 32)) {
      throw new LallyError(ErrorCodes.INVALID_FIELD, `range ${i} [${start}, ${end}) is not a ring range`);
    }
    return { start, end };
  });
}

/** The Snapshot handler: pages from `readPage` until the last one. */
export function snapshotHandler(
  readPage: ReadPage,
): handleServerStreamingCall<lally.v1.SnapshotRequest, lally.v1.SnapshotPage.$Properties> {
  return (call: ServerWritableStream<lally.v1.SnapshotRequest, lally.v1.SnapshotPage.$Properties>) => {
    let cancelled = false;
    call.on('cancelled', () => {
      cancelled = true;
    });
    const run = async (): Promise<void> => {
      const request = call.request;
      const query = {
        ranges: parseRanges(request.ranges),
        maxRecords: clamp(request.pageRecords, PAGE_LIMITS.defaultRecords, PAGE_LIMITS.maxRecords),
        maxBytes: clamp(request.pageBytes, PAGE_LIMITS.defaultBytes, PAGE_LIMITS.maxBytes),
      };
      let cursor: Uint8Array = request.cursor ?? new Uint8Array(0);
      for (;;) {
        const page = await readPage({ ...query, cursor });
        if (cancelled) return;
        await writeWithBackpressure(call, {
          records: page.records as lally.v1.Record.$Properties[],
          cursor: page.cursor,
          last: page.last,
          total: page.total,
        });
        if (page.last) break;
        cursor = page.cursor;
      }
      call.end();
    };
    run().catch((error: unknown) => {
      if (!cancelled) call.emit('error', toStatusError(error));
    });
  };
}

export interface SnapshotRequest {
  readonly ranges?: readonly RingRange[];
  readonly cursor?: Uint8Array;
  readonly pageRecords?: number;
  readonly pageBytes?: number;
}

/**
 * The pages of a peer's snapshot, checked, in order. The whole transfer is bounded by `timeoutMs`;
 * on failure it throws the mapped LallyError, and the caller may resume from the last page's cursor.
 */
export async function* snapshotPages(
  channel: PeerChannel,
  request: SnapshotRequest,
  timeoutMs: number,
): AsyncGenerator<SnapshotPage> {
  const call = channel.serverStream(
    ReplicationService.snapshot,
    {
      ranges: (request.ranges ?? []).map((r) => ({ start: r.start, end: r.end })),
      cursor: request.cursor ?? new Uint8Array(0),
      pageRecords: request.pageRecords ?? 0,
      pageBytes: request.pageBytes ?? 0,
    },
    timeoutMs,
  );
  let last = false;
  try {
    for await (const message of call as AsyncIterable<lally.v1.SnapshotPage>) {
      const records = message.records as unknown as ReplicaRecord[];
      for (let i = 0; i < records.length; i++) checkRecord(records[i]!, i);
      last = message.last;
      yield { records, cursor: message.cursor, last, total: toSafeNumber(message.total) };
      if (last) break;
    }
  } catch (error) {
    throw channel.callError(error, ReplicationService.snapshot);
  } finally {
    if (!last) call.cancel();
  }
  if (!last) {
    throw new LallyError(
      ErrorCodes.PEER_UNAVAILABLE,
      `${channel.address} ended the snapshot before its last page`,
    );
  }
}
