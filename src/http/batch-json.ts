import { versionToRfc3339 } from '../clock/hlc.js';
import type { OpResult, Quorum } from '../kv/key-value-service.js';
import { BodyOp } from './batch-body.js';
import type { BatchOp } from './request-parsing.js';

/** The RFC 3339 timestamp of an operation's result: the wall part of its version. */
export function timestampOf(result: OpResult): string | undefined {
  return result.version === undefined ? undefined : versionToRfc3339(result.version);
}

/** One operation's answer inside a /batch answer (see docs/api.md). */
export function batchItemJson(op: BatchOp, result: OpResult): string {
  const key = JSON.stringify(op.key);
  if (result.error !== undefined) {
    return `{"op":"${op.op}","status":"error","key":${key},"code":"${result.error.code}","message":${JSON.stringify(result.error.message)}}`;
  }
  const timestamp = timestampOf(result);
  const value = op.op === 'put' ? op.value : result.found ? result.value : undefined;
  const ts = result.found || op.op === 'put' ? timestamp : undefined;
  // As the REST routes answer: `partial` when fewer replicas answered than the quorum asks.
  const { required, achieved } = result.quorum;
  const status = achieved >= required ? 'success' : 'partial';
  return (
    `{"op":"${op.op}","status":"${status}","key":${key},"found":${op.op === 'put' ? true : result.found},` +
    `"value":${value === undefined ? 'null' : JSON.stringify(value)},"timestamp":${ts === undefined ? 'null' : JSON.stringify(ts)},` +
    `"quorum":{"required":${required},"achieved":${achieved}}}`
  );
}

/** Buffer's own encoders (Node 20; not in its typings): Buffer#write without the dispatch on the encoding. */
interface Encoders {
  utf8Write(text: string, offset: number): number;
  latin1Write(text: string, offset: number): number;
}
type Bytes = Buffer & Encoders;

const allocate = (size: number): Bytes => Buffer.allocUnsafe(size) as Bytes;

const ascii = (text: string): Uint8Array => Buffer.from(text, 'latin1');

const GET_OK = ascii('{"op":"get","status":"success","key":');
const ITEM_START: Readonly<Record<string, Uint8Array>> = {
  get: ascii('{"op":"get","status":"'),
  put: ascii('{"op":"put","status":"'),
  remove: ascii('{"op":"remove","status":"'),
};
const SUCCESS_KEY = ascii('success","key":');
const PARTIAL_KEY = ascii('partial","key":');
const FOUND_TRUE_VALUE = ascii(',"found":true,"value":');
const FOUND_TRUE_VALUE_QUOTE = ascii(',"found":true,"value":"');
const FOUND_FALSE_VALUE_NULL_TS_NULL = ascii(',"found":false,"value":null,"timestamp":null');
const TIMESTAMP = ascii(',"timestamp":');
const NULL = ascii('null');
const STATUS_SUCCESS_COUNT = ascii('{"status":"success","count":');
const STATUS_PARTIAL_COUNT = ascii('{"status":"partial","count":');
const RESULTS = ascii(',"results":[');
const CLOSE_ANSWER = ascii(']}');

/** Room left before the first item for the answer's head, written last (its status is known at the end). */
const HEAD_ROOM = STATUS_PARTIAL_COUNT.length + 16 + RESULTS.length;

/** Constants this long or longer are copied by set(), shorter ones by a loop (#put). */
const PUT_SET_MIN = 12;

/** Strings longer than this are escaped by JSON.stringify and encoded natively; shorter ones by a loop. */
const SHORT = 64;

/**
 * RFC 3339 texts up to the second, with the field's name and the opening quote
 * (`,"timestamp":"2024-12-30T10:15:00.`), by second, direct-mapped: each one copied by one set() (see
 * #put).
 */
const SECONDS = 256;
const cachedSeconds = new Float64Array(SECONDS).fill(Number.NaN);
const cachedPrefixes: Uint8Array[] = Array.from({ length: SECONDS }, () => new Uint8Array(0));

/**
 * A /batch answer assembled as UTF-8 bytes, byte for byte the JSON that batchItemJson and the
 * answer's head make (test/http/batch-json.ts compares them). Items go in as they are answered,
 * which may be out of order (a hop answers later); `finish` puts them in order. One writer is reused
 * from batch to batch. `units` counts what an item weighs in the batch budget: UTF-16 units of its
 * JSON, as the strings it replaces did.
 */
export class AnswerWriter {
  bytes: Bytes;
  #pos = HEAD_ROOM;
  /** Start and end of each item in `bytes`, by index in the batch. */
  #spans = new Int32Array(256);
  /** Items written so far, and whether they came in index order (then they lie in order already). */
  #written = 0;
  #ordered = true;
  /** The UTF-16 units of the item written last. */
  units = 0;
  /** UTF-16 units less UTF-8 bytes of the long strings of the item being written. */
  #extraUnits = 0;
  /** The end of an item for the quorum last written (#quorumTail). */
  #tail: Uint8Array = new Uint8Array(0);
  #tailRequired = -1;
  #tailAchieved = -1;

  constructor(initialBytes = 16 * 1024) {
    this.bytes = allocate(initialBytes);
  }

  /** Starts a batch of `count` items. */
  reset(count: number): void {
    this.#pos = HEAD_ROOM;
    this.#written = 0;
    this.#ordered = true;
    if (this.#spans.length < count * 2) this.#spans = new Int32Array(count * 2);
  }

  /** Writes item `index`; `units` then holds its weight. */
  item(index: number, op: BatchOp, result: OpResult): void {
    // A comma ahead of every item but the first: in order, the items are then the list as is.
    if (this.#written > 0) this.#byte(0x2c);
    const itemStart = this.#pos;
    if (result.error !== undefined || !this.#fast(op, result)) {
      this.#pos = itemStart;
      const json = batchItemJson(op, result);
      this.#text(json);
      this.units = json.length;
    }
    if (this.#written !== index) this.#ordered = false;
    this.#written++;
    this.#spans[index * 2] = itemStart;
    this.#spans[index * 2 + 1] = this.#pos;
  }

  /**
   * Writes item `index`, a GET of `op.key` found with the value `source[start, start + length)`
   * (UTF-8) at `wall`, as `item`
   * would write it; `units` then holds its weight. False, with nothing written, when the value is
   * not printable ASCII without `"` or `\` (its UTF-8 bytes are then not its JSON text): the caller
   * decodes it and calls `item`.
   */
  foundBytes(
    index: number,
    op: BatchOp,
    source: Uint8Array,
    start: number,
    length: number,
    wall: number,
    quorum: Quorum,
  ): boolean {
    const end = start + length;
    for (let i = start; i < end; i++) {
      const c = source[i]!;
      if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
    }
    const comma = this.#written > 0;
    const itemStart = this.#pos + (comma ? 1 : 0);
    this.#ensure(length + 193);
    if (comma) this.bytes[this.#pos++] = 0x2c;
    const { required, achieved } = quorum;
    this.#extraUnits = 0;
    if (achieved >= required) this.#put(GET_OK);
    else {
      this.#put(ITEM_START.get!);
      this.#put(PARTIAL_KEY);
    }
    if (!this.#key(op)) {
      this.#pos = itemStart - (comma ? 1 : 0);
      return false;
    }
    this.#ensure(length + 160);
    this.#put(FOUND_TRUE_VALUE_QUOTE);
    this.#copy(source, start, end);
    this.bytes[this.#pos++] = 0x22;
    if (!this.#timestamp(wall)) {
      this.#pos = itemStart - (comma ? 1 : 0);
      return false;
    }
    this.#quorumTail(required, achieved);
    this.units = this.#pos - itemStart + this.#extraUnits;
    if (this.#written !== index) this.#ordered = false;
    this.#written++;
    this.#spans[index * 2] = itemStart;
    this.#spans[index * 2 + 1] = this.#pos;
    return true;
  }

  /**
   * The whole answer, valid until the next reset. `out` is a second writer's buffer for items that
   * came out of order (their bytes are copied there in order).
   */
  finish(count: number, partial: boolean, out: AnswerWriter): Uint8Array {
    const head = partial ? STATUS_PARTIAL_COUNT : STATUS_SUCCESS_COUNT;
    const countText = String(count);
    const headLength = head.length + countText.length + RESULTS.length;
    if (this.#ordered) {
      const start = HEAD_ROOM - headLength;
      let p = start;
      this.bytes.set(head, p);
      p += head.length;
      p += this.bytes.latin1Write(countText, p);
      this.bytes.set(RESULTS, p);
      this.#ensure(CLOSE_ANSWER.length);
      this.#put(CLOSE_ANSWER);
      return this.bytes.subarray(start, this.#pos);
    }
    // Out of order: the items' bytes are copied to `out` in index order, with their commas.
    out.#pos = 0;
    out.#ensure(headLength + (this.#pos - HEAD_ROOM) + CLOSE_ANSWER.length + 1);
    out.#put(head);
    out.#pos += out.bytes.latin1Write(countText, out.#pos);
    out.#put(RESULTS);
    const spans = this.#spans;
    const target = out.bytes;
    let p = out.#pos;
    for (let i = 0; i < count; i++) {
      if (i > 0) target[p++] = 0x2c;
      p += this.bytes.copy(target, p, spans[i * 2]!, spans[i * 2 + 1]!);
    }
    out.#pos = p;
    out.#put(CLOSE_ANSWER);
    return target.subarray(0, out.#pos);
  }

  /** The answer of an item that came back as usual (no error); false when it needs batchItemJson. */
  #fast(op: BatchOp, result: OpResult): boolean {
    const { required, achieved } = result.quorum;
    const status = achieved >= required;
    const start = this.#pos;
    this.#extraUnits = 0;
    this.#ensure(192);
    if (op.op === 'get' && status) this.#put(GET_OK);
    else {
      this.#put(ITEM_START[op.op]!);
      this.#put(status ? SUCCESS_KEY : PARTIAL_KEY);
    }
    if (!this.#key(op)) return false;
    const value = op.op === 'put' ? op.value : result.found ? result.value : undefined;
    if (op.op === 'put' || result.found) {
      // A long key's text may end the buffer: 3 bytes a unit fill what #string made room for.
      this.#ensure(FOUND_TRUE_VALUE.length + NULL.length);
      this.#put(FOUND_TRUE_VALUE);
      if (value === undefined) this.#put(NULL);
      else if (!this.#string(value)) return false;
      this.#ensure(128);
      if (result.version === undefined) {
        this.#put(TIMESTAMP);
        this.#put(NULL);
      } else if (!this.#timestamp(result.version.wall)) return false;
    } else {
      this.#ensure(128);
      this.#put(FOUND_FALSE_VALUE_NULL_TS_NULL);
    }
    this.#quorumTail(required, achieved);
    this.units = this.#pos - start + this.#extraUnits;
    return true;
  }

  /** The op's key as a JSON string: a BodyOp's from its bytes (printable ASCII, no escapes: as is). */
  #key(op: BatchOp): boolean {
    if (!(op instanceof BodyOp) || op.body === undefined) return this.#string(op.key);
    this.#ensure(op.keyEnd - op.keyStart + 2);
    this.bytes[this.#pos++] = 0x22;
    this.#copy(op.body, op.keyStart, op.keyEnd);
    this.bytes[this.#pos++] = 0x22;
    return true;
  }

  /** Copies source[start, end), bytes that are their own JSON text; the caller made room. */
  #copy(source: Uint8Array, start: number, end: number): void {
    const out = this.bytes;
    let p = this.#pos;
    if (end - start <= SHORT) for (let i = start; i < end; i++) out[p++] = source[i]!;
    else {
      out.set(source.subarray(start, end), p);
      p = p + end - start;
    }
    this.#pos = p;
  }

  /**
   * `text` as a JSON string. Short printable ASCII is copied by a loop (it needs no escape, and its
   * UTF-8 bytes are its UTF-16 units); false for other short strings: the caller then builds the
   * item with JSON.stringify. Long strings are escaped by JSON.stringify and encoded natively.
   */
  #string(text: string): boolean {
    const length = text.length;
    if (length > SHORT) {
      const json = JSON.stringify(text);
      this.#ensure(json.length * 3);
      const written = this.bytes.utf8Write(json, this.#pos);
      this.#pos += written;
      this.#extraUnits += json.length - written;
      return true;
    }
    this.#ensure(length + 2);
    const bytes = this.bytes;
    let p = this.#pos;
    bytes[p++] = 0x22;
    for (let i = 0; i < length; i++) {
      const c = text.charCodeAt(i);
      if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
      bytes[p++] = c;
    }
    bytes[p++] = 0x22;
    this.#pos = p;
    return true;
  }

  /**
   * `,"quorum":{"required":R,"achieved":A}}`, the end of every item: from a copy kept for the last
   * quorum seen (one set()), made again when it changes (a node answers with one or two quorums).
   */
  #quorumTail(required: number, achieved: number): void {
    if (required !== this.#tailRequired || achieved !== this.#tailAchieved) {
      this.#tail = ascii(`,"quorum":{"required":${required},"achieved":${achieved}}}`);
      this.#tailRequired = required;
      this.#tailAchieved = achieved;
    }
    this.#ensure(this.#tail.length);
    this.#put(this.#tail);
  }

  /**
   * `,"timestamp":` and the quoted RFC 3339 text of `wall` (versionToRfc3339's); false outside years
   * 0000-9999.
   */
  #timestamp(wall: number): boolean {
    if (!(wall >= 0) || wall !== Math.floor(wall)) return false;
    const second = Math.floor(wall / 1000);
    const slot = second & (SECONDS - 1);
    if (cachedSeconds[slot] !== second) {
      const iso = new Date(wall).toISOString();
      if (iso.length !== 24) return false;
      cachedPrefixes[slot] = ascii(`,"timestamp":"${iso.slice(0, 20)}`);
      cachedSeconds[slot] = second;
    }
    const bytes = this.bytes;
    const prefix = cachedPrefixes[slot]!;
    bytes.set(prefix, this.#pos);
    let p = this.#pos + prefix.length;
    const ms = wall - second * 1000;
    bytes[p++] = 0x30 + Math.floor(ms / 100);
    bytes[p++] = 0x30 + (Math.floor(ms / 10) % 10);
    bytes[p++] = 0x30 + (ms % 10);
    bytes[p++] = 0x5a; // Z
    bytes[p++] = 0x22;
    this.#pos = p;
    return true;
  }

  #byte(b: number): void {
    this.#ensure(1);
    this.bytes[this.#pos++] = b;
  }

  /**
   * A constant. The caller made room for it. A byte loop costs about 2.5 ns a byte and set() about
   * 27 ns whatever the length (measured, Node 20): set() from 12 bytes on. An item of a found GET
   * writes about 110 bytes of constants, so this was the largest part of its cost in profiles.
   */
  #put(constant: Uint8Array): void {
    const bytes = this.bytes;
    const length = constant.length;
    if (length >= PUT_SET_MIN) {
      bytes.set(constant, this.#pos);
      this.#pos += length;
      return;
    }
    let p = this.#pos;
    for (let i = 0; i < length; i++) bytes[p++] = constant[i]!;
    this.#pos = p;
  }

  #text(json: string): void {
    this.#ensure(json.length * 3);
    this.#pos += this.bytes.utf8Write(json, this.#pos);
  }

  #ensure(more: number): void {
    const need = this.#pos + more;
    if (need <= this.bytes.length) return;
    const grown = allocate(Math.max(need, this.bytes.length * 2));
    this.bytes.copy(grown, 0, 0, this.#pos);
    this.bytes = grown;
  }
}
