/**
 * Handoff on a graceful leave: with a replication factor below the cluster's size, the leaving node
 * pushes the records of each range it loses to the members that gain it (planHandoff), on a
 * replication stream per member, and waits for their acks, within a time budget. One pass over the
 * local data (the ranges it loses, through the local page reader) serves every gaining member.
 */
import type { Logger } from 'pino';
import { ErrorCodes, LallyError } from '../errors.js';
import { hashKeyBytes } from '../hash/key-hash.js';
import { placementOf, type ReplicationFactor } from '../placement/placement.js';
import type { ReplicaRecord } from '../rpc/codec.js';
import type { PeerPool } from '../rpc/peer-pool.js';
import { ReplicationStream } from '../rpc/replication-stream.js';
import { PAGE_LIMITS, type ReadPage } from '../rpc/snapshot-transfer.js';
import { type HandoffMove, type PlanMember, planHandoff } from './transfer-plan.js';
import { TransferProgress } from './transfer-progress.js';

export interface HandoffOptions {
  readonly self: number;
  readonly members: readonly PlanMember[];
  readonly factor: ReplicationFactor | undefined;
  readonly pool: PeerPool;
  readonly readPage: ReadPage;
  readonly logger: Logger;
  readonly budgetMs: number;
}

export interface HandoffResult {
  readonly ranges: number;
  /** Records acknowledged by each gaining member, by address. */
  readonly sent: Record<string, number>;
  readonly ms: number;
  /** Whether every record reached every gaining member within the budget. */
  readonly complete: boolean;
}

/** The moves sorted by start, and a lookup of a ring position's move. */
function moveFinder(moves: readonly HandoffMove[]): (position: number) => HandoffMove | undefined {
  const sorted = [...moves].sort((a, b) => a.range.start - b.range.start);
  return (position) => {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid]!.range.start <= position) lo = mid + 1;
      else hi = mid;
    }
    const move = sorted[lo - 1];
    return move !== undefined && position < move.range.end ? move : undefined;
  };
}

export async function handOff(options: HandoffOptions): Promise<HandoffResult> {
  const started = Date.now();
  const moves = planHandoff(options.self, options.members, options.factor);
  if (moves.length === 0) return { ranges: 0, sent: {}, ms: 0, complete: true };
  const { logger } = options;
  const find = moveFinder(moves);
  const streams = new Map<number, { member: PlanMember; stream: ReplicationStream; acked: number }>();
  for (const move of moves) {
    for (const m of move.to) {
      if (!streams.has(m.id)) {
        streams.set(m.id, {
          member: m,
          stream: new ReplicationStream(options.pool.get(m.address)),
          acked: 0,
        });
      }
    }
  }
  logger.info(
    { ranges: moves.length, to: [...streams.values()].map((s) => s.member.address) },
    `handing ${moves.length} ranges over to ${streams.size} member(s) before leaving`,
  );
  const progress = new TransferProgress(logger, 'handoff');
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new LallyError(ErrorCodes.TIMEOUT, `the handoff did not finish within ${options.budgetMs} ms`),
        ),
      options.budgetMs,
    );
  });
  const run = async (): Promise<void> => {
    let cursor: Uint8Array = new Uint8Array(0);
    let inFlight: Promise<unknown> = Promise.resolve();
    for (;;) {
      const page = await options.readPage({
        ranges: moves.map((m) => m.range),
        cursor,
        maxRecords: PAGE_LIMITS.defaultRecords,
        maxBytes: PAGE_LIMITS.defaultBytes,
      });
      const batches = new Map<number, ReplicaRecord[]>();
      for (const r of page.records) {
        const move = find(placementOf(hashKeyBytes(r.key)));
        for (const m of move?.to ?? []) {
          const list = batches.get(m.id) ?? [];
          list.push(r);
          batches.set(m.id, list);
        }
      }
      // One page on the wire while the next is read.
      await inFlight;
      inFlight = Promise.all(
        [...batches].map(async ([id, records]) => {
          const target = streams.get(id)!;
          const ack = await target.stream.send(records);
          target.acked += records.length;
          progress.add(records.length, ack.applied, ack.superseded);
        }),
      );
      inFlight.catch(() => {}); // awaited below, after the next page is read
      if (page.last) break;
      cursor = page.cursor;
    }
    await inFlight;
  };
  let complete = true;
  try {
    await Promise.race([run(), expired]);
  } catch (error) {
    complete = false;
    logger.warn(
      { err: error },
      'the handoff is incomplete: the remaining replicas keep what was not handed over',
    );
  } finally {
    clearTimeout(timer);
    for (const s of streams.values()) s.stream.destroy();
  }
  const sent = Object.fromEntries([...streams.values()].map((s) => [s.member.address, s.acked]));
  return { ranges: moves.length, sent, ms: Date.now() - started, complete };
}
