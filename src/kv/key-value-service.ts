/**
 * What the HTTP layer needs of the data: one key operation at a time, answered by callback. The
 * single node implements it with its shard router (src/shard/shard-router.ts); the cluster's
 * coordinator will implement it by asking the key's replicas. Neither side imports the other.
 */
import type { Version } from '../clock/hlc.js';
import type { LallyError } from '../errors.js';
import { decodeUtf8Bytes, type ValueInput } from './value-input.js';

export type OpKind = 'get' | 'put' | 'remove';

/**
 * How many replicas an answer needed and how many gave it. `achieved < required` is a `partial`
 * answer (the write happened where it could; upstream answers the same when peers do not answer).
 */
export interface Quorum {
  readonly required: number;
  readonly achieved: number;
}

/** The answer to one key operation, wherever it ran. */
export interface OpResult {
  /** GET: found; PUT: applied; REMOVE: a live value was removed. */
  readonly found: boolean;
  /** GET: the value; REMOVE: the removed value; PUT: undefined. */
  readonly value: string | undefined;
  /**
   * The same value as UTF-8 bytes, when the service has it as bytes (a BytesResult): a view of the
   * store or of a ring, valid only during the callback. A consumer that writes the value out (an HTTP
   * answer, a hop's answer) takes it here instead of `value`, and no string is made.
   */
  readonly valueBytes?: Uint8Array | undefined;
  /**
   * The version of the stored entry (a local read passes the entry itself, which the next write to
   * the key updates in place: read it in the callback, do not keep it).
   */
  readonly version: Version | undefined;
  readonly error: LallyError | undefined;
  /** The replicas the operation needed and reached (a failed one: achieved 0; its error is the answer). */
  readonly quorum: Quorum;
}

/**
 * A value found as bytes (BytesResult.valueBytes) is decoded only if somebody asks for `value`. Its
 * bytes are valid during the callback only, so the producer calls `settle()` right after the callback
 * returns: the value is then decoded unless the callback took the bytes (read `valueBytes`), so a
 * caller that keeps the result and reads `value` later reads it as before. A callback that took the
 * bytes and wants `value` too must read it during the callback.
 */
export class BytesResult implements OpResult {
  readonly found: boolean;
  readonly version: Version | undefined;
  readonly error = undefined;
  readonly quorum: Quorum;
  #bytes: Uint8Array | undefined;
  #value: string | undefined;
  #taken = false;

  constructor(found: boolean, bytes: Uint8Array, version: Version | undefined, quorum: Quorum) {
    this.found = found;
    this.#bytes = bytes;
    this.version = version;
    this.quorum = quorum;
  }

  get valueBytes(): Uint8Array | undefined {
    this.#taken = true;
    return this.#bytes;
  }

  get value(): string | undefined {
    if (this.#value === undefined) {
      const bytes = this.#bytes;
      if (bytes === undefined) {
        throw new Error('the value was taken as bytes during the callback and is gone: read value there');
      }
      this.#value = decodeUtf8Bytes(bytes);
    }
    return this.#value;
  }

  /** Called by the producer once the callback returned (see the class). */
  settle(): void {
    if (!this.#taken && this.#value === undefined) void this.value;
    this.#bytes = undefined;
  }
}

export type OpCallback = (result: OpResult) => void;

/**
 * Where a read answered at once (KeyValueService.readNow) goes: one of the two methods is called,
 * once, before readNow returns. A found value comes as its UTF-8 bytes, `source[start, start +
 * length)`, valid during the call only (the table's or the reader's own memory: no view is made for
 * it), and its version as its three parts (no Version object, no OpResult).
 */
export interface ReadSink {
  found(
    source: Uint8Array,
    start: number,
    length: number,
    wall: number,
    counter: number,
    node: number,
    quorum: Quorum,
  ): void;
  missing(quorum: Quorum): void;
}

/**
 * get, put and remove as one entry point (`op` says which), so the hot path makes no closure per
 * kind; a batch is a sequence of them (src/http/batch-runner.ts bounds it). Callbacks may run
 * synchronously (a local key) or later (a hop, a sync, a peer).
 */
export interface KeyValueService {
  /** A PUT's value: a string or its UTF-8 bytes, which are valid only during the call (value-input.ts). */
  execute(op: OpKind, key: string, value: ValueInput | undefined, callback: OpCallback): void;
  /**
   * A GET answered now, into `sink`, when the service can answer it without waiting (a key of this
   * shard, or another shard's key read from its table): the same answer and the same counts as
   * `execute('get')`. False when it cannot answer now: then it called nothing and counted nothing,
   * and the caller runs `execute`. Optional: a service without it always takes `execute`.
   */
  readNow?(key: string, sink: ReadSink): boolean;
  /**
   * readNow of the key whose UTF-8 bytes are `source[start, end)`, read during the call only (a
   * /batch body's key, not decoded to a string). Optional, beside readNow: a service with only readNow
   * is asked with the key decoded.
   */
  readNowBytes?(source: Uint8Array, start: number, end: number, sink: ReadSink): boolean;
}

/** The quorums one node reaches alone: every answer is its own, so achieved is 1. */
export interface LocalQuorums {
  readonly read: Quorum;
  readonly write: Quorum;
}

export function localQuorums(readQuorum = 1, writeQuorum = 1): LocalQuorums {
  return {
    read: Object.freeze({ required: readQuorum, achieved: 1 }),
    write: Object.freeze({ required: writeQuorum, achieved: 1 }),
  };
}
