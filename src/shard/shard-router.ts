import type { Logger } from 'pino';
import type { Version } from '../clock/hlc.js';
import { type ErrorCode, ErrorCodes, isErrorCode, LallyError } from '../errors.js';
import { shardOfKey } from '../hash/key-hash.js';
import {
  emptyHopHeader,
  HOP_HEADER_BYTES,
  HopHeaderWriter,
  HopKind,
  HopStatus,
  hopKey,
  hopValue,
  hopVersion,
  readHopHeader,
  Utf8Scratch,
} from './hop-messages.js';
import { PendingTable } from './pending-table.js';
import type { ShardEngine, WriteResult } from './shard-engine.js';

/** One direction of a thread pair, as the router needs it (an Outbox over a ring implements it). */
export interface HopLink {
  /** Queues one message made of up to three parts; false when the link cannot take it (back-pressure). */
  send(first: Uint8Array, second?: Uint8Array, third?: Uint8Array): boolean;
}

export type OpKind = 'get' | 'put' | 'remove';

/** The answer to one key operation, wherever it ran. */
export interface OpResult {
  /** GET: found; PUT: applied; REMOVE: a live value was removed. */
  readonly found: boolean;
  /** GET: the value; REMOVE: the removed value; PUT: undefined. */
  readonly value: string | undefined;
  /**
   * The version of the stored entry (a local read passes the entry itself, which the next write to
   * the key updates in place: read it in the callback, do not keep it).
   */
  readonly version: Version | undefined;
  readonly error: LallyError | undefined;
}

export type OpCallback = (result: OpResult) => void;

const EMPTY = new Uint8Array(0);

function missing(): OpResult {
  return { found: false, value: undefined, version: undefined, error: undefined };
}

function failed(error: LallyError): OpResult {
  return { found: false, value: undefined, version: undefined, error };
}

function asLallyError(error: unknown): LallyError {
  return error instanceof LallyError
    ? error
    : new LallyError(ErrorCodes.INTERNAL, error instanceof Error ? error.message : String(error), {
        cause: error,
      });
}

/**
 * Sends each key operation to the shard that owns the key: inline when that is this shard, otherwise
 * over the link to the owner, matching the answer to the request by id. It also serves the requests
 * that other shards send here. Callbacks for local operations may run synchronously.
 */
export class ShardRouter {
  readonly shard: number;
  readonly shards: number;
  readonly #engine: ShardEngine;
  readonly #links: readonly (HopLink | undefined)[];
  readonly #logger: Logger;
  readonly #pending = new PendingTable<OpCallback>();
  readonly #header = new HopHeaderWriter();
  readonly #scratchHeader = emptyHopHeader();
  readonly #keyScratch = new Utf8Scratch();
  readonly #valueScratch = new Utf8Scratch();
  #nextRequestId = 1;
  /** Requests that hopped to another shard, and requests other shards sent here. */
  readonly counters = { hopsOut: 0, hopsIn: 0, busy: 0 };

  constructor(opts: {
    engine: ShardEngine;
    shard: number;
    shards: number;
    /** links[n] carries messages from this shard to shard n; links[own shard] is unused. */
    links: readonly (HopLink | undefined)[];
    logger: Logger;
  }) {
    this.#engine = opts.engine;
    this.shard = opts.shard;
    this.shards = opts.shards;
    this.#links = opts.links;
    this.#logger = opts.logger;
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  ownerOf(key: string): number {
    return this.shards === 1 ? 0 : shardOfKey(key, this.shards);
  }

  execute(op: OpKind, key: string, value: string | undefined, callback: OpCallback): void {
    const owner = this.ownerOf(key);
    if (owner === this.shard) {
      this.#runLocal(op, key, value, callback);
      return;
    }
    const kind = op === 'get' ? HopKind.GET : op === 'put' ? HopKind.PUT : HopKind.REMOVE;
    const keyBytes = this.#keyScratch.encode(key);
    const valueBytes = value === undefined ? EMPTY : this.#valueScratch.encode(value);
    // A PUT's answer carries no value (an OK answer with no bytes would decode as ''): say so.
    const answer =
      kind === HopKind.PUT ? (result: OpResult) => callback({ ...result, value: undefined }) : callback;
    this.#request(owner, kind, keyBytes, valueBytes, answer);
  }

  /** Asks another shard for its figures (a JSON text, admin path only). */
  stats(shard: number, callback: (json: string | undefined, error: LallyError | undefined) => void): void {
    this.#request(shard, HopKind.STATS, EMPTY, EMPTY, (result) => callback(result.value, result.error));
  }

  #request(
    owner: number,
    kind: HopKind,
    keyBytes: Uint8Array,
    valueBytes: Uint8Array,
    callback: OpCallback,
  ): void {
    const link = this.#links[owner];
    if (link === undefined) {
      callback(
        failed(new LallyError(ErrorCodes.INTERNAL, `no link from shard ${this.shard} to shard ${owner}`)),
      );
      return;
    }
    const requestId = this.#nextRequestId;
    this.#nextRequestId = requestId === 0xffffffff ? 1 : requestId + 1;
    const header = this.#header.write(
      kind,
      HopStatus.OK,
      requestId,
      undefined,
      keyBytes.length,
      valueBytes.length,
    );
    if (!link.send(header, keyBytes, valueBytes)) {
      this.counters.busy++;
      callback(
        failed(new LallyError(ErrorCodes.BUSY, `shard ${owner} is overloaded (its ring is full); retry`)),
      );
      return;
    }
    this.counters.hopsOut++;
    this.#pending.add(requestId, callback);
  }

  #runLocal(op: OpKind, key: string, value: string | undefined, callback: OpCallback): void {
    try {
      if (op === 'get') {
        const entry = this.#engine.get(key);
        callback(
          entry === undefined
            ? missing()
            : {
                found: true,
                value: entry.value,
                version: entry, // an Entry is a Version: no copy
                error: undefined,
              },
        );
        return;
      }
      const outcome = op === 'put' ? this.#engine.put(key, value ?? '') : this.#engine.remove(key);
      if (outcome instanceof Promise) {
        outcome.then(
          (result) => callback(writeResult(op, result)),
          (error: unknown) => {
            this.#logger.error({ err: error, op, key }, 'write failed');
            callback(failed(asLallyError(error)));
          },
        );
      } else {
        callback(writeResult(op, outcome));
      }
    } catch (error) {
      this.#logger.error({ err: error, op, key }, 'operation failed');
      callback(failed(asLallyError(error)));
    }
  }

  /** Handles one message from shard `from`: a request to serve, or the answer to one of ours. */
  receive(from: number, message: Uint8Array): void {
    if (message.byteLength < HOP_HEADER_BYTES) {
      this.#logger.error({ from, bytes: message.byteLength }, 'dropped a truncated hop message');
      return;
    }
    const header = readHopHeader(message, this.#scratchHeader);
    if (header.kind === HopKind.RESULT) {
      const callback = this.#pending.take(header.requestId);
      if (callback === undefined) {
        this.#logger.error({ from, requestId: header.requestId }, 'answer for an unknown request');
        return;
      }
      callback(decodeResult(message, header));
      return;
    }
    this.counters.hopsIn++;
    const requestId = header.requestId;
    if (header.kind === HopKind.STATS) {
      this.#answer(from, requestId, {
        found: true,
        value: this.statsProvider(),
        version: undefined,
        error: undefined,
      });
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
        requestId,
        failed(new LallyError(ErrorCodes.INTERNAL, `unknown hop kind ${header.kind}`)),
      );
      return;
    }
    const key = hopKey(message, header);
    const value = op === 'put' ? hopValue(message, header) : undefined;
    this.#runLocal(op, key, value, (result) => this.#answer(from, requestId, result));
  }

  /** Supplies this shard's figures for a STATS request (set by the runtime). */
  statsProvider: () => string = () => '{}';

  #answer(to: number, requestId: number, result: OpResult): void {
    const link = this.#links[to];
    let status: HopStatus = result.found ? HopStatus.OK : HopStatus.MISSING;
    let valueBytes: Uint8Array = EMPTY;
    if (result.error !== undefined) {
      status = HopStatus.ERROR;
      valueBytes = Buffer.from(`${result.error.code}\n${result.error.message}`, 'utf8');
    } else if (result.value !== undefined) {
      valueBytes = this.#valueScratch.encode(result.value);
    }
    const header = this.#header.write(
      HopKind.RESULT,
      status,
      requestId,
      result.version,
      0,
      valueBytes.length,
    );
    // An answer must never be lost: the requester is waiting for it. The link queues when the ring is
    // full; only a link whose overflow is exhausted refuses, and then the requester's client times out.
    if (link === undefined || !link.send(header, valueBytes)) {
      this.#logger.error({ to, requestId }, 'could not send an answer to another shard: its link is full');
    }
  }

  /** Fails every request still waiting for another shard (at shutdown). */
  failPending(code: ErrorCode, message: string): void {
    for (const callback of this.#pending.drain()) callback(failed(new LallyError(code, message)));
  }
}

function writeResult(op: OpKind, result: WriteResult): OpResult {
  if (op === 'put') return { found: true, value: undefined, version: result.version, error: undefined };
  return {
    found: result.previous !== undefined,
    value: result.previous,
    version: result.version,
    error: undefined,
  };
}

function decodeResult(message: Uint8Array, header: ReturnType<typeof readHopHeader>): OpResult {
  if (header.status === HopStatus.ERROR) {
    const text = hopValue(message, header);
    const newline = text.indexOf('\n');
    const code = newline < 0 ? text : text.slice(0, newline);
    const detail = newline < 0 ? 'failed in another shard' : text.slice(newline + 1);
    return failed(new LallyError(isErrorCode(code) ? code : ErrorCodes.INTERNAL, detail));
  }
  const version =
    header.wall === 0 && header.counter === 0 && header.node === 0 ? undefined : hopVersion(header);
  const value =
    header.valueLength > 0 || header.status === HopStatus.OK ? hopValue(message, header) : undefined;
  return { found: header.status === HopStatus.OK, value, version, error: undefined };
}
