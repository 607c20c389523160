/**
 * The requests a shard serves for its node's main thread as one replica of the cluster:
 * APPLY_BATCH (peers' records, applied unless they lose last-writer-wins), READ_ENTRY (an entry with
 * its version and tombstone) and SNAPSHOT (bounded pages of every entry). The router hands them
 * here and lends its answer path (src/shard/shard-router.ts), which never refuses an answer.
 */
import type { Version } from '../clock/hlc.js';
import { ErrorCodes, LallyError } from '../errors.js';
import {
  decodeSnapshotPage,
  decodeSnapshotRequest,
  encodeAppliedCount,
  HopFlag,
  type HopHeader,
  HopKind,
  HopStatus,
  Utf8Scratch,
} from '../hop/hop-messages.js';
import type { ShardEngine } from './shard-engine.js';
import { SnapshotSessions } from './snapshot-sessions.js';
import { TreeRequests } from './tree-requests.js';

const EMPTY = new Uint8Array(0);

/** How answers leave: the router's path (answers are never refused while the link is open). */
export interface ReplicaAnswers {
  send(
    to: number,
    answering: number,
    requestId: number,
    status: HopStatus,
    version: Version | undefined,
    flags: number,
    valueBytes: Uint8Array,
  ): void;
  /** Logs the failure (rate-limited) and answers it as an ERROR. */
  fail(to: number, answering: number, requestId: number, error: unknown, key: string, msg: string): void;
}

export class ReplicaRequests {
  readonly #engine: ShardEngine;
  readonly #answers: ReplicaAnswers;
  readonly #snapshots: SnapshotSessions;
  readonly trees: TreeRequests;
  readonly #valueScratch = new Utf8Scratch();

  constructor(engine: ShardEngine, answers: ReplicaAnswers) {
    this.#engine = engine;
    this.#answers = answers;
    this.#snapshots = new SnapshotSessions(engine.store);
    this.trees = new TreeRequests(engine);
  }

  /**
   * APPLY_BATCH: many peers' records, each applied unless it loses last-writer-wins; answered with the
   * count applied once all are durable. A failure fails the whole batch (the sender sends it again:
   * applying a record twice changes nothing the second time).
   */
  applyBatch(from: number, requestId: number, message: Uint8Array, header: HopHeader): void {
    const fail = (error: unknown) =>
      this.#answers.fail(from, HopKind.APPLY_BATCH, requestId, error, '', 'replicated batch failed');
    const answer = (applied: number) =>
      this.#answers.send(
        from,
        HopKind.APPLY_BATCH,
        requestId,
        HopStatus.OK,
        undefined,
        0,
        encodeAppliedCount(applied),
      );
    try {
      const { records } = decodeSnapshotPage(message, header);
      let applied = 0;
      const waits: Promise<boolean>[] = [];
      for (const r of records) {
        const outcome = this.#engine.applyReplicated({
          op: r.tombstone ? 'REMOVE' : 'ADD',
          key: r.key,
          value: r.tombstone ? '' : r.value,
          version: r.version,
        });
        if (outcome instanceof Promise) waits.push(outcome);
        else if (outcome) applied++;
      }
      if (waits.length === 0) answer(applied);
      else {
        Promise.all(waits).then((results) => {
          for (const won of results) if (won) applied++;
          answer(applied);
        }, fail);
      }
    } catch (error) {
      fail(error);
    }
  }

  /** READ_ENTRY: the entry with its version and tombstone (repair and reads at R > 1 need both). */
  readEntry(from: number, requestId: number, key: string): void {
    const entry = this.#engine.store.getWithTombstone(key);
    if (entry === undefined) {
      this.#answers.send(from, HopKind.READ_ENTRY, requestId, HopStatus.MISSING, undefined, 0, EMPTY);
      return;
    }
    const flags = entry.tombstone ? HopFlag.TOMBSTONE : 0;
    const value = this.#valueScratch.encode(entry.value);
    this.#answers.send(from, HopKind.READ_ENTRY, requestId, HopStatus.OK, entry, flags, value);
  }

  /** SNAPSHOT: one bounded page of this shard's entries (src/shard/snapshot-sessions.ts). */
  snapshot(from: number, requestId: number, message: Uint8Array, header: HopHeader): void {
    const request = decodeSnapshotRequest(message, header);
    if (request === undefined) {
      this.#answers.fail(
        from,
        HopKind.SNAPSHOT,
        requestId,
        new LallyError(ErrorCodes.INTERNAL, 'a SNAPSHOT request without a valid cursor'),
        '',
        'snapshot request refused',
      );
      return;
    }
    const page = this.#snapshots.page(request.cursor, request.maxBytes);
    this.#answers.send(from, HopKind.SNAPSHOT, requestId, HopStatus.OK, undefined, 0, page);
  }

  /** TREE: anti-entropy's node hashes or leaf listings (src/shard/tree-requests.ts). */
  tree(from: number, requestId: number, message: Uint8Array, header: HopHeader): void {
    let answer: Uint8Array | undefined;
    try {
      answer = this.trees.answer(message, header);
    } catch (error) {
      this.#answers.fail(from, HopKind.TREE, requestId, error, '', 'tree request failed');
      return;
    }
    if (answer === undefined) {
      this.#answers.fail(
        from,
        HopKind.TREE,
        requestId,
        new LallyError(ErrorCodes.INTERNAL, 'a malformed TREE request'),
        '',
        'tree request refused',
      );
      return;
    }
    this.#answers.send(from, HopKind.TREE, requestId, HopStatus.OK, undefined, 0, answer);
  }
}
