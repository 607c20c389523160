import type { Logger } from 'pino';
import type { Version } from '../clock/hlc.js';
import { asLallyError, type ErrorCode, ErrorCodes, isErrorCode, LallyError } from '../errors.js';
import { hashKeyBytes, shardOfKey } from '../hash/key-hash.js';
import type { HopLink } from '../hop/hop-link.js';
import {
  achievedOf,
  emptyHopHeader,
  HOP_HEADER_BYTES,
  HopHeaderWriter,
  HopKind,
  HopStatus,
  hopKey,
  hopValue,
  hopValueBytes,
  hopVersion,
  MAX_FLAG_ACHIEVED,
  readHopHeader,
  Utf8Scratch,
  valuePart,
  writeResultHeader,
} from '../hop/hop-messages.js';
import { PendingHops } from '../hop/pending-hops.js';
import {
  BytesResult,
  type KeyValueService,
  type LocalQuorums,
  localQuorums,
  type OpCallback,
  type OpKind,
  type OpResult,
  type Quorum,
  type ReadSink,
} from '../kv/key-value-service.js';
import type { ValueInput } from '../kv/value-input.js';
import { RateLimitedLogs } from '../log/rate-limited.js';
import { tableHash, tableHashOf, Utf8Buffer } from '../store/table-layout.js';
import { ReadStatus, type TableReader } from '../store/table-reader.js';
import { ReplicaRequests } from './replica-requests.js';
import type { ShardEngine, WriteResult } from './shard-engine.js';

/** Defaults of the router's bounds (docs/rings.md, "Hops: bounds and deadlines"). */
export const HOP_DEFAULTS = {
  timeoutMs: 5000,
  /** Hops this shard may have waiting on one other shard before it answers BUSY. */
  maxInFlightPerShard: 4096,
  /** Answer bytes queued towards one shard past which GET and REMOVE requests are answered BUSY. */
  answerBudgetBytes: 32 * 1024 * 1024,
} as const;

const EMPTY = new Uint8Array(0);

const WRITE_BUCKETS = 4096;

/** Answers of the admin hops (STATS): no replica count applies. */
const NO_QUORUM: Quorum = Object.freeze({ required: 1, achieved: 1 });

function missing(quorum: Quorum): OpResult {
  return { found: false, value: undefined, version: undefined, error: undefined, quorum };
}

/** `{ required: 0, achieved: n }` for each count a main-thread answer can carry (no allocation per answer). */
const REACHED: readonly Quorum[] = Array.from({ length: MAX_FLAG_ACHIEVED + 1 }, (_, achieved) =>
  Object.freeze({ required: 0, achieved }),
);

function reached(achieved: number): Quorum {
  return REACHED[achieved]!;
}

/** A failed operation reached no replica (the HTTP layer answers its error, not a quorum). */
const NOT_REACHED: Quorum = Object.freeze({ required: 1, achieved: 0 });

function failed(error: LallyError): OpResult {
  return { found: false, value: undefined, version: undefined, error, quorum: NOT_REACHED };
}

/**
 * Sends each key operation to the shard that owns the key: inline when that is this shard, otherwise
 * over the link to the owner, matching the answer to the request by id. It also serves the requests
 * that other shards send here. Callbacks for local operations may run synchronously. It is the single
 * node's KeyValueService: every answer is this node's own, so its quorum has achieved = 1 (a quorum
 * configured above 1 is then answered `partial`, as upstream answers when peers do not).
 */
export class ShardRouter implements KeyValueService {
  readonly shard: number;
  readonly shards: number;
  readonly #engine: ShardEngine;
  readonly #links: readonly (HopLink | undefined)[];
  readonly #logger: Logger;
  readonly #failureLog: RateLimitedLogs;
  /** Hops this shard waits on (requester side): ids, the in-flight cap, deadlines. */
  readonly #pending: PendingHops<OpCallback>;
  /** Answer bytes promised to each shard by REMOVEs that are still running (owner side). */
  readonly #answerReserved: Float64Array;
  readonly #answerBudget: number;
  readonly #quorums: LocalQuorums;
  /** Serves the main thread's replica requests (APPLY_BATCH, READ_ENTRY, SNAPSHOT). */
  readonly #replica: ReplicaRequests;
  readonly #header = new HopHeaderWriter();
  readonly #scratchHeader = emptyHopHeader();
  readonly #keyScratch = new Utf8Scratch();
  readonly #valueScratch = new Utf8Scratch();
  /** peerTables[n]: a reader of shard n's table (same node), for GETs without a hop; none for itself. */
  readonly #peerTables: readonly (TableReader | undefined)[];
  readonly #directKey = new Utf8Buffer();
  /** readNow's version of a local entry, read into this (its parts go to the sink). */
  readonly #version = { wall: 0, counter: 0, node: 0 };
  /**
   * PUTs and REMOVEs this shard sent to other shards and that are not answered yet, counted by
   * bucket of the key's table hash: a GET of a key in a bucket with a write in flight hops behind it
   * on the same ring instead of reading the table, which the write may not have reached yet (a batch
   * or a pipeline's PUT then GET of one key must read the PUT).
   */
  readonly #writesInFlight = new Uint32Array(WRITE_BUCKETS);
  /**
   * hopsOut/hopsIn: requests that hopped to another shard / that other shards sent here. busy: hops
   * refused here (a full link, too many in flight); answersBusy: requests of other shards answered
   * BUSY because the answers owed to that shard were over budget; timeouts: hops that passed their
   * deadline; lateAnswers: answers that came after it (ignored).
   */
  readonly counters = {
    hopsOut: 0,
    hopsIn: 0,
    busy: 0,
    answersBusy: 0,
    timeouts: 0,
    lateAnswers: 0,
    /** GETs of other shards' keys read from their tables, without a hop. */
    directGets: 0,
    /** Of those, reads the owner kept changing under them, which then hopped (TableReader). */
    directFallbacks: 0,
  };

  constructor(opts: {
    engine: ShardEngine;
    shard: number;
    shards: number;
    /** links[n] carries messages from this shard to shard n; links[own shard] is unused. */
    links: readonly (HopLink | undefined)[];
    logger: Logger;
    /** How long a hop may wait for its answer before it fails with LALLY_ERR_TIMEOUT. */
    hopTimeoutMs?: number;
    maxInFlightPerShard?: number;
    answerBudgetBytes?: number;
    /** The configured read and write quorums, for the answers' `quorum.required` (default 1). */
    readQuorum?: number;
    writeQuorum?: number;
    /**
     * Readers of the other shards' tables (index = shard): a GET of their keys reads there instead of
     * hopping (docs/shared-store.md). Without them every GET of another shard's key hops.
     */
    peerTables?: readonly (TableReader | undefined)[];
  }) {
    this.#engine = opts.engine;
    this.shard = opts.shard;
    this.shards = opts.shards;
    this.#links = opts.links;
    this.#logger = opts.logger;
    this.#failureLog = new RateLimitedLogs(opts.logger);
    const threads = Math.max(opts.links.length, opts.shards + 1);
    this.#pending = new PendingHops<OpCallback>({
      threads,
      timeoutMs: opts.hopTimeoutMs ?? HOP_DEFAULTS.timeoutMs,
      maxInFlightPerThread: opts.maxInFlightPerShard ?? HOP_DEFAULTS.maxInFlightPerShard,
      onTimeout: (callback, _owner, error) => {
        this.counters.timeouts++;
        callback(failed(error));
      },
    });
    this.#answerReserved = new Float64Array(threads);
    this.#answerBudget = opts.answerBudgetBytes ?? HOP_DEFAULTS.answerBudgetBytes;
    this.#quorums = localQuorums(opts.readQuorum, opts.writeQuorum);
    this.#peerTables = opts.peerTables ?? [];
    this.#replica = new ReplicaRequests(opts.engine, {
      send: (to, answering, requestId, status, version, flags, valueBytes) =>
        this.#sendAnswer(to, answering, requestId, status, version, flags, valueBytes),
      fail: (to, answering, requestId, error, key, msg) =>
        this.#answer(to, answering, requestId, this.#failure(error, 'put', key, msg)),
    });
  }

  /** Stops the deadline timer (the thread may exit without it: it is unref'd) and logs held-back lines. */
  close(): void {
    this.#pending.close();
    this.#failureLog.flush();
  }

  /** Hops waiting for shard `owner`. */
  inFlightTo(owner: number): number {
    return this.#pending.inFlightTo(owner);
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  ownerOf(key: string): number {
    return this.shards === 1 ? 0 : shardOfKey(key, this.shards);
  }

  /** `value`: a string or its UTF-8 bytes, read during the call only (copied into the ring or the AOF). */
  execute(op: OpKind, key: string, value: ValueInput | undefined, callback: OpCallback): void {
    const owner = this.ownerOf(key);
    if (owner === this.shard) {
      this.#runLocal(op, key, value, callback);
      return;
    }
    const table = this.#peerTables[owner];
    if (table === undefined) {
      const kind = op === 'get' ? HopKind.GET : op === 'put' ? HopKind.PUT : HopKind.REMOVE;
      const keyBytes = this.#keyScratch.encode(key);
      const valueBytes = value === undefined ? EMPTY : valuePart(value, this.#valueScratch);
      this.#request(owner, kind, keyBytes, valueBytes, callback);
      return;
    }
    const bytes = this.#directKey.encode(key);
    const hash = tableHash(bytes.bytes, bytes.length);
    const bucket = hash & (WRITE_BUCKETS - 1);
    if (op === 'get') {
      if (this.#writesInFlight[bucket] === 0 && this.#readDirect(table, bytes, hash, callback)) return;
      this.#request(owner, HopKind.GET, bytes.bytes.subarray(0, bytes.length), EMPTY, callback);
      return;
    }
    const valueBytes = value === undefined ? EMPTY : valuePart(value, this.#valueScratch);
    const inFlight = this.#writesInFlight;
    inFlight[bucket]!++;
    this.#request(
      owner,
      op === 'put' ? HopKind.PUT : HopKind.REMOVE,
      bytes.bytes.subarray(0, bytes.length),
      valueBytes,
      (result) => {
        inFlight[bucket]!--;
        callback(result);
      },
    );
  }

  /**
   * A GET answered now into `sink` (KeyValueService.readNow): this shard's key as #getLocal reads it,
   * another shard's key from its table as #readDirect does. False, with nothing counted, when the
   * read would hop: no table of the owner, a write of this shard to the key's bucket still in flight
   * (the GET must read it), or an owner that kept changing the key (`execute` then tries again).
   */
  readNow(key: string, sink: ReadSink): boolean {
    const bytes = this.#directKey.encode(key);
    return this.#readNowEncoded(bytes.bytes, bytes.length, sink);
  }

  /** readNow of the key whose UTF-8 bytes are `source[start, end)` (a /batch body's key, not decoded). */
  readNowBytes(source: Uint8Array, start: number, end: number, sink: ReadSink): boolean {
    const bytes = this.#directKey.copyFrom(source, start, end);
    return this.#readNowEncoded(bytes.bytes, bytes.length, sink);
  }

  /** The key is bytes[0, length): hashed once for its shard and its table slot. */
  #readNowEncoded(bytes: Uint8Array, length: number, sink: ReadSink): boolean {
    const keyHash = hashKeyBytes(bytes, 0, length);
    const owner = this.shards === 1 ? 0 : keyHash % this.shards;
    const hash = tableHashOf(keyHash);
    const counters = this.#engine.counters;
    if (owner === this.shard) {
      const store = this.#engine.store;
      counters.gets++;
      const offset = store.liveOffsetOf(bytes, length, hash);
      if (offset < 0) {
        sink.missing(this.#quorums.read);
        return true;
      }
      counters.hits++;
      const table = store.table;
      const version = table.versionAt(offset, this.#version);
      sink.found(
        table.arenaBytes,
        table.valueStartAt(offset),
        table.valueLengthAt(offset),
        version.wall,
        version.counter,
        version.node,
        this.#quorums.read,
      );
      return true;
    }
    const table = this.#peerTables[owner];
    if (table === undefined) return false;
    if (this.#writesInFlight[hash & (WRITE_BUCKETS - 1)] !== 0) return false;
    const status = table.read(bytes, length, hash);
    if (status === ReadStatus.CONTENDED) return false;
    this.counters.directGets++;
    counters.gets++;
    if (status === ReadStatus.MISSING || table.tombstone) {
      sink.missing(this.#quorums.read);
      return true;
    }
    counters.hits++;
    sink.found(table.copy, 0, table.valueLength, table.wall, table.counter, table.node, this.#quorums.read);
    return true;
  }

  /**
   * A GET of another shard's key, answered from its table as the owner would answer it (a tombstone
   * is a missing key; no hook runs on reads). False when the owner kept changing the key through
   * every attempt: the caller hops instead. `bytes` holds the key's UTF-8 bytes, `hash` their table hash.
   */
  #readDirect(table: TableReader, bytes: Utf8Buffer, hash: number, callback: OpCallback): boolean {
    const status = table.read(bytes.bytes, bytes.length, hash);
    if (status === ReadStatus.CONTENDED) {
      this.counters.directFallbacks++;
      return false;
    }
    this.counters.directGets++;
    const counters = this.#engine.counters;
    counters.gets++;
    if (status === ReadStatus.MISSING || table.tombstone) {
      callback(missing(this.#quorums.read));
      return true;
    }
    counters.hits++;
    // The value's bytes are the reader's copy, valid until its next read: past the callback.
    const version = { wall: table.wall, counter: table.counter, node: table.node };
    const result = new BytesResult(true, table.valueBytes, version, this.#quorums.read);
    callback(result);
    result.settle();
    return true;
  }

  /** Asks another shard for its figures (a JSON text, admin path only). */
  stats(shard: number, callback: (json: string | undefined, error: LallyError | undefined) => void): void {
    this.#request(shard, HopKind.STATS, EMPTY, EMPTY, (result) => callback(result.value, result.error));
  }

  /**
   * Sends a cluster request to the main thread (REPLICATE, COORDINATE; src/shard/cluster-service.ts):
   * the same ids, in-flight cap and deadline as a hop. The answer's quorum is `{ required: 0,
   * achieved }` with the count the main thread reached; the caller fills in what it required.
   */
  requestMain(
    kind: HopKind,
    operation: number,
    version: Version | undefined,
    flags: number,
    key: string,
    value: ValueInput | undefined,
    callback: OpCallback,
  ): void {
    const keyBytes = this.#keyScratch.encode(key);
    const valueBytes = value === undefined ? EMPTY : valuePart(value, this.#valueScratch);
    this.#request(this.shards, kind, keyBytes, valueBytes, callback, version, flags, operation);
  }

  #request(
    owner: number,
    kind: HopKind,
    keyBytes: Uint8Array,
    valueBytes: Uint8Array,
    callback: OpCallback,
    version?: Version,
    flags = 0,
    operation = 0,
  ): void {
    const link = this.#links[owner];
    if (link === undefined) {
      callback(
        failed(new LallyError(ErrorCodes.INTERNAL, `no link from shard ${this.shard} to shard ${owner}`)),
      );
      return;
    }
    if (this.#pending.full(owner)) {
      this.counters.busy++;
      callback(
        failed(
          new LallyError(
            ErrorCodes.BUSY,
            `shard ${owner} is overloaded (${this.#pending.maxInFlightPerThread} requests wait for it); retry`,
          ),
        ),
      );
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
      operation,
      flags,
    );
    if (!link.send(header, keyBytes, valueBytes)) {
      this.counters.busy++;
      callback(
        failed(new LallyError(ErrorCodes.BUSY, `shard ${owner} is overloaded (its ring is full); retry`)),
      );
      return;
    }
    this.counters.hopsOut++;
    this.#pending.add(requestId, callback, owner);
  }

  #runLocal(op: OpKind, key: string, value: ValueInput | undefined, callback: OpCallback): void {
    try {
      if (op === 'get') {
        this.#getLocal(key, callback);
        return;
      }
      // A PUT's answer shows no previous value: the store need not decode it.
      const outcome = op === 'put' ? this.#engine.put(key, value ?? '', false) : this.#engine.remove(key);
      if (outcome instanceof Promise) {
        outcome.then(
          (result) => callback(writeResult(op, result, this.#quorums.write)),
          (error: unknown) => {
            callback(this.#failure(error, op, key, 'write failed'));
          },
        );
      } else {
        callback(writeResult(op, outcome, this.#quorums.write));
      }
    } catch (error) {
      callback(this.#failure(error, op, key, 'operation failed'));
    }
  }

  /**
   * A GET of this shard's key (what ShardEngine.get counts and reads), answered with the value's bytes
   * in the table: a view valid during the callback, as only this thread writes the table.
   */
  #getLocal(key: string, callback: OpCallback): void {
    const { store, counters } = this.#engine;
    counters.gets++;
    const offset = store.liveOffset(key);
    if (offset < 0) {
      callback(missing(this.#quorums.read));
      return;
    }
    counters.hits++;
    const table = store.table;
    const version = table.versionAt(offset, { wall: 0, counter: 0, node: 0 });
    const result = new BytesResult(true, table.valueBytesAt(offset), version, this.#quorums.read);
    callback(result);
    result.settle();
  }

  /**
   * Logs a failed operation and makes its result. One line per error code per second at most (a full
   * disk fails every write): a LallyError is expected and logged by code and message; anything else
   * is a bug, logged with its stack.
   */
  #failure(error: unknown, op: OpKind, key: string, msg: string): OpResult {
    const lally = asLallyError(error);
    const fields: Record<string, unknown> =
      error instanceof LallyError
        ? { code: lally.code, error: lally.message, op, key }
        : { code: lally.code, err: error, op, key };
    this.#failureLog.log('error', lally.code, fields, msg);
    return failed(lally);
  }

  /** Handles one message from shard `from`: a request to serve, or the answer to one of ours. */
  receive(from: number, message: Uint8Array): void {
    if (message.byteLength < HOP_HEADER_BYTES) {
      this.#logger.error({ from, bytes: message.byteLength }, 'dropped a truncated hop message');
      return;
    }
    const header = readHopHeader(message, this.#scratchHeader);
    if (header.kind === HopKind.RESULT) {
      const callback = this.#pending.take(header.requestId, from);
      if (callback === undefined) {
        // Its hop timed out (or the node is shutting down and failed it): the caller has its answer.
        this.counters.lateAnswers++;
        return;
      }
      const quorum =
        header.answering === HopKind.GET
          ? this.#quorums.read
          : header.answering === HopKind.PUT || header.answering === HopKind.REMOVE
            ? this.#quorums.write
            : reached(achievedOf(header.flags));
      const result = decodeResult(message, header, quorum);
      callback(result);
      // The value's bytes are a view of the ring, which reclaims them once this returns.
      if (result instanceof BytesResult) result.settle();
      return;
    }
    this.counters.hopsIn++;
    const requestId = header.requestId;
    const kind = header.kind;
    if (kind === HopKind.STATS) {
      this.#answer(from, kind, requestId, {
        found: true,
        value: this.statsProvider(),
        version: undefined,
        error: undefined,
        quorum: NO_QUORUM,
      });
      return;
    }
    if (kind === HopKind.APPLY_BATCH) {
      this.#replica.applyBatch(from, requestId, message, header);
      return;
    }
    if (kind === HopKind.READ_ENTRY || kind === HopKind.SNAPSHOT || kind === HopKind.TREE) {
      if (this.#overAnswerBudget(from, kind, requestId)) return;
      if (kind === HopKind.READ_ENTRY) this.#replica.readEntry(from, requestId, hopKey(message, header));
      else if (kind === HopKind.SNAPSHOT) this.#replica.snapshot(from, requestId, message, header);
      else this.#replica.tree(from, requestId, message, header);
      return;
    }
    const op: OpKind | undefined =
      header.kind === HopKind.GET
        ? 'get'
        : header.kind === HopKind.PUT
          ? 'put'
          : header.kind === HopKind.REMOVE
            ? 'remove'
            : undefined;
    if (op === undefined) {
      this.#logger.error({ from, kind: header.kind }, 'unknown hop message kind');
      this.#answer(
        from,
        kind,
        requestId,
        failed(new LallyError(ErrorCodes.INTERNAL, `unknown hop kind ${header.kind}`)),
      );
      return;
    }
    const key = hopKey(message, header);
    if (op === 'put') {
      // A PUT's answer is a header: it needs no budget.
      // The value stays bytes: a view into the ring, which the engine copies before this call returns.
      this.#runLocal(op, key, hopValueBytes(message, header), (result) =>
        this.#answer(from, kind, requestId, result),
      );
      return;
    }
    // A GET's or REMOVE's answer carries a value. Answers are never refused by the link, so their
    // memory is bounded here: past the budget of answer bytes queued towards `from`, the request is
    // answered BUSY without running (a REMOVE that is refused did not happen).
    if (this.#overAnswerBudget(from, kind, requestId)) return;
    if (op === 'get') {
      this.#runLocal(op, key, undefined, (result) => this.#answer(from, kind, requestId, result));
      return;
    }
    // A REMOVE answers with the removed value once its write is durable: reserve its bytes until
    // then (UTF-16 length * 3 bounds the UTF-8 length), so many slow removes cannot overrun the budget.
    const reserved = HOP_HEADER_BYTES + 3 * (this.#engine.store.get(key)?.value.length ?? 0);
    this.#answerReserved[from]! += reserved;
    this.#runLocal(op, key, undefined, (result) => {
      this.#answerReserved[from]! -= reserved;
      this.#answer(from, kind, requestId, result);
    });
  }

  /** Answers BUSY (and says so) when the answers queued towards `from` are over the budget. */
  #overAnswerBudget(from: number, kind: number, requestId: number): boolean {
    const backlog = (this.#links[from]?.answerBacklogBytes ?? 0) + this.#answerReserved[from]!;
    if (backlog < this.#answerBudget) return false;
    this.counters.answersBusy++;
    this.#answer(
      from,
      kind,
      requestId,
      failed(
        new LallyError(
          ErrorCodes.BUSY,
          `shard ${this.shard} has ${backlog} bytes of answers queued for shard ${from}; retry`,
        ),
      ),
    );
    return true;
  }

  /** Supplies this shard's figures for a STATS request (set by the runtime). */
  statsProvider: () => string = () => '{}';

  /** Sends the answer to request `requestId` (of kind `answering`) back to thread `to`. */
  #answer(to: number, answering: number, requestId: number, result: OpResult): void {
    let status: HopStatus = result.found ? HopStatus.OK : HopStatus.MISSING;
    let valueBytes: Uint8Array = EMPTY;
    if (result.error !== undefined) {
      status = HopStatus.ERROR;
      valueBytes = Buffer.from(`${result.error.code}\n${result.error.message}`, 'utf8');
    } else {
      // A value found as bytes goes from the table to the ring as it is, never a string.
      const bytes = result.valueBytes;
      if (bytes !== undefined) valueBytes = bytes;
      else if (result.value !== undefined) valueBytes = this.#valueScratch.encode(result.value);
    }
    this.#sendAnswer(to, answering, requestId, status, result.version, 0, valueBytes);
  }

  #sendAnswer(
    to: number,
    answering: number,
    requestId: number,
    status: HopStatus,
    version: Version | undefined,
    flags: number,
    valueBytes: Uint8Array,
  ): void {
    const link = this.#links[to];
    const header = writeResultHeader(
      this.#header,
      answering,
      requestId,
      status,
      version,
      flags,
      valueBytes.length,
    );
    // An answer must never be lost: the requester is waiting for it. The link never refuses an answer
    // while open; it refuses only once closed (the node is stopping, and the requester's deadline or
    // shutdown answers its client).
    let sent: boolean;
    try {
      sent = link !== undefined && (link.sendAnswer?.(header, valueBytes) ?? link.send(header, valueBytes));
    } catch (error) {
      // A value that can never fit the ring (stored under a larger max_value_bytes): say so instead.
      if (status === HopStatus.ERROR) throw error;
      this.#answer(to, answering, requestId, failed(asLallyError(error)));
      return;
    }
    if (!sent) {
      this.#failureLog.log(
        'warn',
        'answer-not-sent',
        { to, requestId },
        'could not send an answer to another shard: its link is closed',
      );
    }
  }

  /** Fails every request still waiting for another shard (at shutdown). */
  failPending(code: ErrorCode, message: string): void {
    for (const callback of this.#pending.drain()) callback(failed(new LallyError(code, message)));
  }
}

function writeResult(op: OpKind, result: WriteResult, quorum: Quorum): OpResult {
  if (op === 'put') {
    return { found: true, value: undefined, version: result.version, error: undefined, quorum };
  }
  return {
    found: result.previous !== undefined,
    value: result.previous,
    version: result.version,
    error: undefined,
    quorum,
  };
}

function decodeResult(
  message: Uint8Array,
  header: ReturnType<typeof readHopHeader>,
  quorum: Quorum,
): OpResult {
  if (header.status === HopStatus.ERROR) {
    const text = hopValue(message, header);
    const newline = text.indexOf('\n');
    const code = newline < 0 ? text : text.slice(0, newline);
    const detail = newline < 0 ? 'failed in another shard' : text.slice(newline + 1);
    return failed(new LallyError(isErrorCode(code) ? code : ErrorCodes.INTERNAL, detail));
  }
  const version =
    header.wall === 0 && header.counter === 0 && header.node === 0 ? undefined : hopVersion(header);
  // A PUT's answer carries no value (an OK answer with no bytes would otherwise decode as ''): the
  // answer names the kind it answers, so no wrapper per hopped PUT is needed to say so.
  const found = header.status === HopStatus.OK;
  if (header.answering !== HopKind.PUT && (header.valueLength > 0 || found)) {
    // The value stays bytes (a view of the ring) unless somebody asks for the string.
    const start = HOP_HEADER_BYTES + header.keyLength;
    return new BytesResult(found, message.subarray(start, start + header.valueLength), version, quorum);
  }
  return { found, value: undefined, version, error: undefined, quorum };
}
