import type { Logger } from 'pino';
import type { AofRecord } from '../aof/types.js';
import type { Version } from '../clock/hlc.js';
import { type ErrorCode, ErrorCodes, isErrorCode, LallyError } from '../errors.js';
import { hashKeyBytes, shardOfKey } from '../hash/key-hash.js';
import type { HopLink } from '../hop/hop-link.js';
import {
  decodeAppliedCount,
  decodeSnapshotPage,
  decodeSnapshotPageBytes,
  emptyHopHeader,
  encodeRecordPage,
  encodeSnapshotRequest,
  HOP_HEADER_BYTES,
  HopFlag,
  type HopHeader,
  HopHeaderWriter,
  HopKind,
  HopStatus,
  hopValue,
  hopVersion,
  readHopHeader,
  type SnapshotCursor,
  type SnapshotPage,
  type SnapshotRecordBytes,
  Utf8Scratch,
  writeResultHeader,
} from '../hop/hop-messages.js';
import { PendingHops } from '../hop/pending-hops.js';

/** Defaults of the endpoint's bounds; the same deadline mechanism as the shard router's. */
export const MAIN_ENDPOINT_DEFAULTS = {
  timeoutMs: 5000,
  maxInFlightPerShard: 4096,
  /** A snapshot page asked for by default (the shard bounds it to 4 KiB..256 KiB). */
  snapshotPageBytes: 128 * 1024,
} as const;

const EMPTY = new Uint8Array(0);

/** A shard's entry as READ_ENTRY answers it: a tombstone is an entry (its value is ''). */
export interface ShardEntry {
  readonly value: string;
  readonly version: Version;
  readonly tombstone: boolean;
}

export type ApplyCallback = (applied: boolean, error: LallyError | undefined) => void;
export type ReadEntryCallback = (entry: ShardEntry | undefined, error: LallyError | undefined) => void;
export type SnapshotCallback = (page: SnapshotPage | undefined, error: LallyError | undefined) => void;
export type SnapshotBytesCallback = (
  page: { records: SnapshotRecordBytes[]; next: SnapshotCursor | undefined } | undefined,
  error: LallyError | undefined,
) => void;

/** Serves one request from shard `from` (the message and header are valid only during the call). */
export type RequestHandler = (from: number, message: Uint8Array, header: HopHeader) => void;

/**
 * What waits for an answer: called with the RESULT (valid only during the call) or with an error
 * (a deadline, the link, shutdown) instead.
 */
type AnswerHandler = (
  message: Uint8Array | undefined,
  header: HopHeader,
  error: LallyError | undefined,
) => void;

function errorOf(message: Uint8Array, header: HopHeader): LallyError {
  const text = hopValue(message, header);
  const newline = text.indexOf('\n');
  const code = newline < 0 ? text : text.slice(0, newline);
  const detail = newline < 0 ? 'failed in a shard' : text.slice(newline + 1);
  return new LallyError(isErrorCode(code) ? code : ErrorCodes.INTERNAL, detail);
}

/**
 * The main thread's end of the rings to every shard: it sends the hops the cluster needs (APPLY a
 * replicated record, READ_ENTRY, SNAPSHOT pages) to the shard that owns a key, or to any shard, and
 * matches the answers by request id. Every hop has a deadline: a shard that does not answer fails the
 * request with LALLY_ERR_TIMEOUT (a late answer is ignored), and the hops waiting on one shard are
 * bounded (LALLY_ERR_BUSY past the bound). Callbacks always run later, never inside the call.
 */
export class MainEndpoint {
  readonly self: number;
  readonly shards: number;
  readonly #links: readonly (HopLink | undefined)[];
  readonly #logger: Logger | undefined;
  /** Ids, the in-flight cap and the deadlines, shared with the shards' router (src/hop/pending-hops.ts). */
  readonly #pending: PendingHops<AnswerHandler>;
  readonly #header = new HopHeaderWriter();
  readonly #scratchHeader = emptyHopHeader();
  readonly #keyScratch = new Utf8Scratch();
  readonly counters = { sent: 0, answered: 0, busy: 0, timeouts: 0, lateAnswers: 0, requests: 0 };
  #serve: RequestHandler | undefined;

  constructor(opts: {
    /** This thread's id (the main thread is `shards`). */
    self: number;
    shards: number;
    /** links[n] carries messages from the main thread to shard n. */
    links: readonly (HopLink | undefined)[];
    logger?: Logger;
    hopTimeoutMs?: number;
    maxInFlightPerShard?: number;
  }) {
    this.self = opts.self;
    this.shards = opts.shards;
    this.#links = opts.links;
    this.#logger = opts.logger;
    this.#pending = new PendingHops<AnswerHandler>({
      threads: Math.max(opts.links.length, opts.shards),
      timeoutMs: opts.hopTimeoutMs ?? MAIN_ENDPOINT_DEFAULTS.timeoutMs,
      maxInFlightPerThread: opts.maxInFlightPerShard ?? MAIN_ENDPOINT_DEFAULTS.maxInFlightPerShard,
      onTimeout: (handler, _shard, error) => {
        this.counters.timeouts++;
        handler(undefined, this.#scratchHeader, error);
      },
    });
  }

  ownerOf(key: string): number {
    return this.shards === 1 ? 0 : shardOfKey(key, this.shards);
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  /**
   * Applies one peer's record on the shard that owns its key (a page of one: APPLY_BATCH is the one
   * apply path); `applied` is false when it lost last-writer-wins.
   */
  apply(record: AofRecord, callback: ApplyCallback): void {
    const tombstone = record.op === 'REMOVE';
    const key = Buffer.from(record.key, 'utf8');
    const value = tombstone ? EMPTY : Buffer.from(record.value, 'utf8');
    const page = encodeRecordPage([{ key, value, version: record.version, tombstone }], 0, 1);
    this.applyBatch(this.ownerOfBytes(key), page, (applied, error) => callback(applied === 1, error));
  }

  /**
   * Applies a page of peers' records (encodeRecordPage) on shard `shard`, which owns every one of
   * them; `applied` counts those that won last-writer-wins.
   */
  applyBatch(
    shard: number,
    page: Uint8Array,
    callback: (applied: number, error: LallyError | undefined) => void,
  ): void {
    this.#request(shard, HopKind.APPLY_BATCH, undefined, 0, EMPTY, page, (message, header, error) => {
      if (error !== undefined) callback(0, error);
      else if (header.status === HopStatus.ERROR) callback(0, errorOf(message!, header));
      else {
        const applied = decodeAppliedCount(message!, header);
        if (applied === undefined)
          callback(0, new LallyError(ErrorCodes.INTERNAL, `shard ${shard}: a malformed APPLY_BATCH answer`));
        else callback(applied, undefined);
      }
    });
  }

  /** The shard that owns a key given as UTF-8 bytes. */
  ownerOfBytes(key: Uint8Array): number {
    return this.shards === 1 ? 0 : hashKeyBytes(key) % this.shards;
  }

  /** The owning shard's entry for `key`, tombstone included; undefined when it never had the key. */
  readEntry(key: string, callback: ReadEntryCallback): void {
    this.#request(
      this.ownerOf(key),
      HopKind.READ_ENTRY,
      undefined,
      0,
      this.#keyScratch.encode(key),
      EMPTY,
      (message, header, error) => {
        if (error !== undefined) callback(undefined, error);
        else if (header.status === HopStatus.ERROR) callback(undefined, errorOf(message!, header));
        else if (header.status === HopStatus.MISSING) callback(undefined, undefined);
        else {
          callback(
            {
              value: hopValue(message!, header),
              version: hopVersion(header),
              tombstone: (header.flags & HopFlag.TOMBSTONE) !== 0,
            },
            undefined,
          );
        }
      },
    );
  }

  /** A TREE hop (anti-entropy, src/hop/tree-messages.ts): the request's bytes, the answer's bytes. */
  tree(
    shard: number,
    request: Uint8Array,
    callback: (answer: Uint8Array | undefined, error: LallyError | undefined) => void,
  ): void {
    this.#request(shard, HopKind.TREE, undefined, 0, EMPTY, request, (message, header, error) => {
      if (error !== undefined) callback(undefined, error);
      else if (header.status === HopStatus.ERROR) callback(undefined, errorOf(message!, header));
      else {
        const start = HOP_HEADER_BYTES + header.keyLength;
        callback(message!.slice(start, start + header.valueLength), undefined);
      }
    });
  }

  /** Shard `shard`'s own figures (ShardStats, as JSON text): the transfers' record estimate. */
  stats(shard: number, callback: (json: string | undefined, error: LallyError | undefined) => void): void {
    this.#request(shard, HopKind.STATS, undefined, 0, EMPTY, EMPTY, (message, header, error) => {
      if (error !== undefined) callback(undefined, error);
      else if (header.status === HopStatus.ERROR) callback(undefined, errorOf(message!, header));
      else callback(hopValue(message!, header), undefined);
    });
  }

  /**
   * One page of shard `shard`'s entries after `cursor` (SNAPSHOT_START for the first): at most about
   * `maxBytes` (the shard bounds it), and `next` to ask for the following one (undefined at the end).
   */
  snapshot(
    shard: number,
    cursor: SnapshotCursor,
    callback: SnapshotCallback,
    maxBytes: number = MAIN_ENDPOINT_DEFAULTS.snapshotPageBytes,
  ): void {
    this.#snapshotPage(shard, cursor, maxBytes, decodeSnapshotPage, callback);
  }

  /** As `snapshot`, with keys and values as bytes (views of one copy of the page): for transfers. */
  snapshotBytes(
    shard: number,
    cursor: SnapshotCursor,
    callback: SnapshotBytesCallback,
    maxBytes: number = MAIN_ENDPOINT_DEFAULTS.snapshotPageBytes,
  ): void {
    this.#snapshotPage(shard, cursor, maxBytes, decodeSnapshotPageBytes, callback);
  }

  #snapshotPage<Page>(
    shard: number,
    cursor: SnapshotCursor,
    maxBytes: number,
    decode: (message: Uint8Array, header: HopHeader) => Page,
    callback: (page: Page | undefined, error: LallyError | undefined) => void,
  ): void {
    this.#request(
      shard,
      HopKind.SNAPSHOT,
      undefined,
      0,
      EMPTY,
      encodeSnapshotRequest(cursor, maxBytes),
      (message, header, error) => {
        if (error !== undefined) callback(undefined, error);
        else if (header.status === HopStatus.ERROR) callback(undefined, errorOf(message!, header));
        else {
          let page: Page;
          try {
            page = decode(message!, header);
          } catch (cause) {
            callback(undefined, new LallyError(ErrorCodes.INTERNAL, `shard ${shard}: ${String(cause)}`));
            return;
          }
          callback(page, undefined);
        }
      },
    );
  }

  #request(
    shard: number,
    kind: HopKind,
    version: Version | undefined,
    flags: number,
    keyBytes: Uint8Array,
    valueBytes: Uint8Array,
    handler: AnswerHandler,
  ): void {
    const fail = (error: LallyError) => queueMicrotask(() => handler(undefined, this.#scratchHeader, error));
    const link = this.#links[shard];
    if (link === undefined || shard === this.self) {
      fail(new LallyError(ErrorCodes.INTERNAL, `no link from the main thread to shard ${shard}`));
      return;
    }
    if (this.#pending.full(shard)) {
      this.counters.busy++;
      const waiting = this.#pending.maxInFlightPerThread;
      fail(new LallyError(ErrorCodes.BUSY, `shard ${shard} has ${waiting} hops waiting; retry`));
      return;
    }
    const requestId = this.#pending.nextId();
    const header = this.#header.write(
      kind,
      HopStatus.OK,
      requestId,
      version,
      keyBytes.length,
      valueBytes.length,
      0,
      flags,
    );
    if (!link.send(header, keyBytes, valueBytes)) {
      this.counters.busy++;
      fail(new LallyError(ErrorCodes.BUSY, `shard ${shard} is overloaded (its ring is full); retry`));
      return;
    }
    this.counters.sent++;
    this.#pending.add(requestId, handler, shard);
  }

  /**
   * Serves the requests shards send here (REPLICATE, COORDINATE: the cluster's coordinator). The
   * message and header are valid only during the call; the handler answers with `answer`.
   */
  serveRequests(handler: RequestHandler): void {
    this.#serve = handler;
  }

  /**
   * Answers request `requestId` (of kind `answering`) of shard `to`. Answers are never refused while
   * the link is open (a shard waits for each); false once it is closed (the node is stopping).
   */
  answer(
    to: number,
    answering: number,
    requestId: number,
    status: HopStatus,
    version: Version | undefined,
    flags: number,
    valueBytes: Uint8Array = EMPTY,
  ): boolean {
    const link = this.#links[to];
    if (link === undefined) return false;
    const header = writeResultHeader(
      this.#header,
      answering,
      requestId,
      status,
      version,
      flags,
      valueBytes.length,
    );
    return link.sendAnswer?.(header, valueBytes) ?? link.send(header, valueBytes);
  }

  /** Answers a request with an error (its code and message, as the shards' router reads them). */
  answerError(to: number, answering: number, requestId: number, error: LallyError): boolean {
    const text = Buffer.from(`${error.code}\n${error.message}`, 'utf8');
    return this.answer(to, answering, requestId, HopStatus.ERROR, undefined, 0, text);
  }

  /** Handles one message from shard `from`: the answer to one of this thread's hops, or a request. */
  receive(from: number, message: Uint8Array): void {
    if (message.byteLength < HOP_HEADER_BYTES) {
      this.#logger?.error({ from, bytes: message.byteLength }, 'dropped a truncated hop message');
      return;
    }
    const header = readHopHeader(message, this.#scratchHeader);
    if (header.kind !== HopKind.RESULT) {
      if (this.#serve !== undefined) {
        this.counters.requests++;
        this.#serve(from, message, header);
        return;
      }
      this.#logger?.error({ from, kind: header.kind }, 'no handler for hop requests on the main thread');
      this.answerError(
        from,
        header.kind,
        header.requestId,
        new LallyError(ErrorCodes.INTERNAL, 'the main thread serves no cluster requests'),
      );
      return;
    }
    const handler = this.#pending.take(header.requestId, from);
    if (handler === undefined) {
      this.counters.lateAnswers++;
      return;
    }
    this.counters.answered++;
    handler(message, header, undefined);
  }

  /** Fails every hop still waiting (at shutdown). */
  failPending(code: ErrorCode, message: string): void {
    for (const handler of this.#pending.drain())
      handler(undefined, this.#scratchHeader, new LallyError(code, message));
  }

  close(): void {
    this.#pending.close();
  }
}
