/**
 * The binary layout of every message that hops between threads over the rings (see docs/rings.md for
 * the ring framing around it). Encoder and decoder sit side by side so that they cannot drift.
 *
 *   offset size field
 *        0    1 kind          (HopKind)
 *        1    1 status        (HopStatus, responses only)
 *        2    1 answering     (the HopKind of the request a RESULT answers; 0 in requests)
 *        3    1 flags         (HopFlag bits: TOMBSTONE in an APPLY request or a READ_ENTRY answer)
 *        4    4 requestId     (u32, chosen by the sender of a request, echoed by the response)
 *        8    4 wallLow       (u32, version wall-clock ms modulo 2^32)
 *       12    4 wallHigh      (u32, version wall-clock ms divided by 2^32)
 *       16    4 counter       (u32, version logical counter)
 *       20    4 node          (u32, version node id)
 *       24    4 keyLength     (u32, bytes)
 *       28    4 valueLength   (u32, bytes)
 *       32    … key bytes (UTF-8), then value bytes (UTF-8, or an error code for an ERROR status)
 *
 * No JSON on the hop; one fixed header so that decoding is a handful of DataView reads.
 *
 * The kinds the main thread sends for the cluster (answers are RESULTs, like every other):
 *   APPLY       retired (its code stays taken): one replicated record. APPLY_BATCH carries them now,
 *               one record or many; a shard answers an APPLY as an unknown kind.
 *               Answer status OK: applied; MISSING: it lost last-writer-wins and changed nothing.
 *   READ_ENTRY  key. Answer OK with the entry's value, version and TOMBSTONE flag (a delete is an
 *               entry too: repair must see it); MISSING when the shard never had the key.
 *   SNAPSHOT    value = a snapshot request (cursor, max bytes; SNAPSHOT_REQUEST_BYTES). Answer OK with
 *               a page (encodeSnapshotPage below): the next cursor, then records with tombstones.
 *
 *   APPLY_BATCH many replicated records for one shard: the value is a page (the SNAPSHOT page layout,
 *               encodeRecordPage below). Answer OK with a u32: how many won last-writer-wins and were
 *               applied (the others changed nothing), once all are durable as the fsync policy says.
 *
 *   TREE        anti-entropy: hashes of tree nodes over ring ranges, or a page of the (key, version,
 *               tombstone) entries of some leaves (src/hop/tree-messages.ts has the layouts).
 *
 * The kinds a shard sends the main thread in a cluster (the coordinator, src/cluster/coordinator.ts):
 *   REPLICATE   a client write this shard committed: version, TOMBSTONE flag, key, value. The main
 *               thread sends it to the key's other replicas and answers OK once write_quorum - 1 of
 *               them acknowledged it, all answered, or quorum_timeout_ms passed; the answer's flags
 *               carry the peers' acknowledgements (`achievedOf`).
 *   COORDINATE  an operation the main thread runs whole: a read at read_quorum > 1, or any operation
 *               on a key this node holds no replica of. The request's `answering` byte names the
 *               operation (GET, PUT, REMOVE); key, value. The answer is a GET's, PUT's or REMOVE's,
 *               with the replicas that answered in its flags (`achievedOf`).
 */
import type { Version } from '../clock/hlc.js';

export const HOP_HEADER_BYTES = 32;

const TWO_TO_32 = 2 ** 32;

export const HopKind = {
  GET: 1,
  PUT: 2,
  REMOVE: 3,
  STATS: 4,
  APPLY: 5,
  READ_ENTRY: 6,
  SNAPSHOT: 7,
  REPLICATE: 8,
  COORDINATE: 9,
  APPLY_BATCH: 10,
  TREE: 11,
  RESULT: 0x81,
} as const;
export type HopKind = (typeof HopKind)[keyof typeof HopKind];

export const HopStatus = {
  /** GET found / PUT applied / REMOVE removed a live value. */
  OK: 0,
  /** GET of a missing key, REMOVE of a missing key. */
  MISSING: 1,
  /** The operation failed; the value bytes carry the error code. */
  ERROR: 2,
} as const;
export type HopStatus = (typeof HopStatus)[keyof typeof HopStatus];

export const HopFlag = {
  /** The record is a delete (APPLY, REPLICATE requests) or the entry is a tombstone (READ_ENTRY answer). */
  TOMBSTONE: 1,
} as const;

/** Replica counts that fit an answer's flags (bits 1..7). */
export const MAX_FLAG_ACHIEVED = 127;

/** The flags of a REPLICATE or COORDINATE answer that reached `achieved` replicas. */
export function achievedFlags(achieved: number): number {
  return Math.min(achieved, MAX_FLAG_ACHIEVED) << 1;
}

export function achievedOf(flags: number): number {
  return flags >>> 1;
}

/** A decoded message. `key` and `value` are decoded lazily by the caller from `bytes`. */
export interface HopHeader {
  kind: number;
  status: number;
  /** In a RESULT: the kind of the request it answers (the requester picks the answer's shape by it). */
  answering: number;
  /** HopFlag bits. */
  flags: number;
  requestId: number;
  wall: number;
  counter: number;
  node: number;
  keyLength: number;
  valueLength: number;
}

/**
 * Writes headers into one reused buffer. Callers hand the header and the key/value parts to the ring
 * together, so a message is never concatenated in JS before it is copied into shared memory.
 */
export class HopHeaderWriter {
  readonly bytes = new Uint8Array(HOP_HEADER_BYTES);
  readonly #view = new DataView(this.bytes.buffer);

  write(
    kind: HopKind,
    status: HopStatus,
    requestId: number,
    version: Version | undefined,
    keyLength: number,
    valueLength: number,
    answering = 0,
    flags = 0,
  ): Uint8Array {
    const view = this.#view;
    view.setUint8(0, kind);
    view.setUint8(1, status);
    view.setUint8(2, answering);
    view.setUint8(3, flags);
    view.setUint32(4, requestId, true);
    const wall = version ? version.wall : 0;
    view.setUint32(8, wall % TWO_TO_32, true);
    view.setUint32(12, Math.floor(wall / TWO_TO_32), true);
    view.setUint32(16, version ? version.counter : 0, true);
    view.setUint32(20, version ? version.node : 0, true);
    view.setUint32(24, keyLength, true);
    view.setUint32(28, valueLength, true);
    return this.bytes;
  }
}

/**
 * The header of a RESULT: the answer to request `requestId` of kind `answering`, with its status,
 * version, flags and the length of the value that follows (answers carry no key).
 */
export function writeResultHeader(
  writer: HopHeaderWriter,
  answering: number,
  requestId: number,
  status: HopStatus,
  version: Version | undefined,
  flags: number,
  valueLength: number,
): Uint8Array {
  return writer.write(HopKind.RESULT, status, requestId, version, 0, valueLength, answering, flags);
}

/** A little-endian u32 read without a DataView: this runs for every message, and views allocate. */
function u32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

export function readHopHeader(message: Uint8Array, into: HopHeader): HopHeader {
  into.kind = message[0]!;
  into.status = message[1]!;
  into.answering = message[2]!;
  into.flags = message[3]!;
  into.requestId = u32(message, 4);
  into.wall = u32(message, 12) * TWO_TO_32 + u32(message, 8);
  into.counter = u32(message, 16);
  into.node = u32(message, 20);
  into.keyLength = u32(message, 24);
  into.valueLength = u32(message, 28);
  return into;
}

export function emptyHopHeader(): HopHeader {
  return {
    kind: 0,
    status: 0,
    answering: 0,
    flags: 0,
    requestId: 0,
    wall: 0,
    counter: 0,
    node: 0,
    keyLength: 0,
    valueLength: 0,
  };
}

/** UTF-8 text of a message's key. Works on views over SharedArrayBuffer (TextDecoder does not). */
export function hopKey(message: Uint8Array, header: HopHeader): string {
  const start = message.byteOffset + HOP_HEADER_BYTES;
  return utf8Slice(message, start, start + header.keyLength);
}

export function hopValue(message: Uint8Array, header: HopHeader): string {
  const start = message.byteOffset + HOP_HEADER_BYTES + header.keyLength;
  return utf8Slice(message, start, start + header.valueLength);
}

/** The value's UTF-8 bytes: a view into the message, valid as long as the message (the drain call). */
export function hopValueBytes(message: Uint8Array, header: HopHeader): Uint8Array {
  const start = HOP_HEADER_BYTES + header.keyLength;
  return message.subarray(start, start + header.valueLength);
}

/** A message part from a value: its bytes as they are, or a string encoded into `scratch`. */
export function valuePart(value: string | Uint8Array, scratch: Utf8Scratch): Uint8Array {
  return typeof value === 'string' ? scratch.encode(value) : value;
}

export function hopVersion(header: HopHeader): Version {
  return { wall: header.wall, counter: header.counter, node: header.node };
}

// A Buffer over the whole backing store of the last message decoded: consecutive messages come from
// the same ring, so decoding reuses it instead of making a Buffer view per field.
let lastBacking: ArrayBufferLike | undefined;
let lastBuffer: Buffer = Buffer.alloc(0);

function utf8Slice(message: Uint8Array, start: number, end: number): string {
  if (start === end) return '';
  if (message.buffer !== lastBacking) {
    lastBacking = message.buffer;
    lastBuffer = Buffer.from(message.buffer);
  }
  return lastBuffer.toString('utf8', start, end);
}

/**
 * Encodes strings into one reused buffer: a message part is copied into the ring at once, so its bytes
 * need to live only until then. The view it returns is valid until the next encode.
 */
export class Utf8Scratch {
  #buffer: Buffer = Buffer.allocUnsafeSlow(4096);

  encode(text: string): Uint8Array {
    // UTF-16 length * 3 bounds the UTF-8 length: grow before writing, never truncate.
    if (text.length * 3 > this.#buffer.length) {
      let size = this.#buffer.length;
      while (size < text.length * 3) size *= 2;
      this.#buffer = Buffer.allocUnsafeSlow(size);
    }
    const written = this.#buffer.write(text, 0, 'utf8');
    return this.#buffer.subarray(0, written);
  }
}

/** UTF-8 bytes of a string for a message part: a Buffer view when the caller already has bytes. */
export function utf8Bytes(text: string | Uint8Array): Uint8Array {
  return typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
}

// ---- SNAPSHOT: bounded pages of a shard's entries ---------------------------------------------

/**
 * Where a snapshot goes on. `session` names the shard's open iterator (0: start a new one);
 * `position` counts the entries already handed out, so a shard that lost the iterator (evicted,
 * restarted) can resume by skipping that many: its store only ever appends keys.
 */
export interface SnapshotCursor {
  readonly session: number;
  readonly position: number;
}

export const SNAPSHOT_START: SnapshotCursor = Object.freeze({ session: 0, position: 0 });

/** One entry of a page: tombstones travel, so that a delete reaches a joining node. */
export interface SnapshotRecord {
  readonly key: string;
  readonly value: string;
  readonly version: Version;
  readonly tombstone: boolean;
}

export interface SnapshotPage {
  readonly records: SnapshotRecord[];
  /** Undefined once the shard has handed out every entry. */
  readonly next: SnapshotCursor | undefined;
}

/** The value part of a SNAPSHOT request: session u32, position (low u32, high u32), maxBytes u32. */
export const SNAPSHOT_REQUEST_BYTES = 16;
/** A page's head: next session u32, next position (low, high), done u32, record count u32. */
const PAGE_HEAD_BYTES = 20;
/** Per record: flags u8, 3 reserved, wall (low, high), counter, node, keyLength, valueLength. */
export const SNAPSHOT_RECORD_HEAD_BYTES = 28;

function putU32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value & 0xff;
  bytes[at + 1] = (value >>> 8) & 0xff;
  bytes[at + 2] = (value >>> 16) & 0xff;
  bytes[at + 3] = (value >>> 24) & 0xff;
}

export function encodeSnapshotRequest(cursor: SnapshotCursor, maxBytes: number): Uint8Array {
  const bytes = new Uint8Array(SNAPSHOT_REQUEST_BYTES);
  putU32(bytes, 0, cursor.session);
  putU32(bytes, 4, cursor.position % TWO_TO_32);
  putU32(bytes, 8, Math.floor(cursor.position / TWO_TO_32));
  putU32(bytes, 12, maxBytes);
  return bytes;
}

/** The cursor and page bound of a SNAPSHOT request, or undefined when its value is not one. */
export function decodeSnapshotRequest(
  message: Uint8Array,
  header: HopHeader,
): { cursor: SnapshotCursor; maxBytes: number } | undefined {
  if (header.valueLength !== SNAPSHOT_REQUEST_BYTES) return undefined;
  const at = HOP_HEADER_BYTES + header.keyLength;
  if (message.byteLength < at + SNAPSHOT_REQUEST_BYTES) return undefined;
  const session = u32(message, at);
  const position = u32(message, at + 8) * TWO_TO_32 + u32(message, at + 4);
  return { cursor: { session, position }, maxBytes: u32(message, at + 12) };
}

/**
 * Builds one page into a buffer of the page's final size: `fits` tells whether a record still fits
 * the bound (the first always does, so that a record larger than the bound still moves), `add`
 * appends it, `finish` writes the head and returns the bytes.
 */
export class SnapshotPageWriter {
  readonly #maxBytes: number;
  readonly #keys: Buffer[] = [];
  readonly #values: Buffer[] = [];
  readonly #versions: Version[] = [];
  readonly #tombstones: boolean[] = [];
  #bytes = PAGE_HEAD_BYTES;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  get count(): number {
    return this.#keys.length;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** The bytes a record takes in a page. */
  static recordBytes(key: string, value: string): number {
    return SNAPSHOT_RECORD_HEAD_BYTES + Buffer.byteLength(key, 'utf8') + Buffer.byteLength(value, 'utf8');
  }

  fits(recordBytes: number): boolean {
    return this.#keys.length === 0 || this.#bytes + recordBytes <= this.#maxBytes;
  }

  add(key: string, value: string, version: Version, tombstone: boolean): void {
    const keyBytes = Buffer.from(key, 'utf8');
    const valueBytes = Buffer.from(value, 'utf8');
    this.#keys.push(keyBytes);
    this.#values.push(valueBytes);
    // Copied: a store entry is its own version and changes with the next write to its key.
    this.#versions.push({ wall: version.wall, counter: version.counter, node: version.node });
    this.#tombstones.push(tombstone);
    this.#bytes += SNAPSHOT_RECORD_HEAD_BYTES + keyBytes.length + valueBytes.length;
  }

  finish(next: SnapshotCursor | undefined): Uint8Array {
    const page = Buffer.allocUnsafe(this.#bytes);
    putU32(page, 0, next?.session ?? 0);
    putU32(page, 4, next === undefined ? 0 : next.position % TWO_TO_32);
    putU32(page, 8, next === undefined ? 0 : Math.floor(next.position / TWO_TO_32));
    putU32(page, 12, next === undefined ? 1 : 0);
    putU32(page, 16, this.#keys.length);
    let at = PAGE_HEAD_BYTES;
    for (let i = 0; i < this.#keys.length; i++) {
      const key = this.#keys[i]!;
      const value = this.#values[i]!;
      const version = this.#versions[i]!;
      page[at] = this.#tombstones[i] ? HopFlag.TOMBSTONE : 0;
      page[at + 1] = 0;
      page[at + 2] = 0;
      page[at + 3] = 0;
      putU32(page, at + 4, version.wall % TWO_TO_32);
      putU32(page, at + 8, Math.floor(version.wall / TWO_TO_32));
      putU32(page, at + 12, version.counter);
      putU32(page, at + 16, version.node);
      putU32(page, at + 20, key.length);
      putU32(page, at + 24, value.length);
      at += SNAPSHOT_RECORD_HEAD_BYTES;
      key.copy(page, at);
      at += key.length;
      value.copy(page, at);
      at += value.length;
    }
    return page;
  }
}

/**
 * Decodes the page in a SNAPSHOT answer (its value part). Strings are copied out: the message lives
 * in the ring only during the call. Throws on a page whose lengths overrun the message.
 */
export function decodeSnapshotPage(message: Uint8Array, header: HopHeader): SnapshotPage {
  const start = HOP_HEADER_BYTES + header.keyLength;
  const end = start + header.valueLength;
  if (header.valueLength < PAGE_HEAD_BYTES || end > message.byteLength) {
    throw new RangeError(`a snapshot page of ${header.valueLength} bytes is shorter than its head`);
  }
  const session = u32(message, start);
  const position = u32(message, start + 8) * TWO_TO_32 + u32(message, start + 4);
  const done = u32(message, start + 12) === 1;
  const count = u32(message, start + 16);
  const records: SnapshotRecord[] = [];
  let at = start + PAGE_HEAD_BYTES;
  const base = message.byteOffset;
  for (let i = 0; i < count; i++) {
    if (at + SNAPSHOT_RECORD_HEAD_BYTES > end) throw new RangeError('a snapshot page ends inside a record');
    const tombstone = (message[at]! & HopFlag.TOMBSTONE) !== 0;
    const wall = u32(message, at + 8) * TWO_TO_32 + u32(message, at + 4);
    const version = { wall, counter: u32(message, at + 12), node: u32(message, at + 16) };
    const keyLength = u32(message, at + 20);
    const valueLength = u32(message, at + 24);
    at += SNAPSHOT_RECORD_HEAD_BYTES;
    if (at + keyLength + valueLength > end) throw new RangeError('a snapshot record overruns its page');
    const key = utf8Slice(message, base + at, base + at + keyLength);
    at += keyLength;
    const value = utf8Slice(message, base + at, base + at + valueLength);
    at += valueLength;
    records.push({ key, value, version, tombstone });
  }
  return { records, next: done ? undefined : { session, position } };
}

/** A record whose key and value are UTF-8 bytes already (as it came off the wire). */
export interface BytesRecord {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  readonly version: Version;
  readonly tombstone: boolean;
}

/** The bytes `record` takes in a page. */
export function pageRecordBytes(record: BytesRecord): number {
  return SNAPSHOT_RECORD_HEAD_BYTES + record.key.length + (record.tombstone ? 0 : record.value.length);
}

/**
 * Encodes records[start, end) as one page (the SNAPSHOT layout, marked last): the value of an
 * APPLY_BATCH request, decoded by decodeSnapshotPage.
 */
export function encodeRecordPage(records: readonly BytesRecord[], start: number, end: number): Uint8Array {
  let size = PAGE_HEAD_BYTES;
  for (let i = start; i < end; i++) size += pageRecordBytes(records[i]!);
  const page = Buffer.allocUnsafe(size);
  page.fill(0, 0, 12);
  putU32(page, 12, 1);
  putU32(page, 16, end - start);
  let at = PAGE_HEAD_BYTES;
  for (let i = start; i < end; i++) {
    const r = records[i]!;
    page[at] = r.tombstone ? HopFlag.TOMBSTONE : 0;
    page[at + 1] = 0;
    page[at + 2] = 0;
    page[at + 3] = 0;
    putU32(page, at + 4, r.version.wall % TWO_TO_32);
    putU32(page, at + 8, Math.floor(r.version.wall / TWO_TO_32));
    putU32(page, at + 12, r.version.counter);
    putU32(page, at + 16, r.version.node);
    putU32(page, at + 20, r.key.length);
    const value = r.tombstone ? EMPTY_BYTES : r.value;
    putU32(page, at + 24, value.length);
    at += SNAPSHOT_RECORD_HEAD_BYTES;
    page.set(r.key, at);
    at += r.key.length;
    page.set(value, at);
    at += value.length;
  }
  return page;
}

const EMPTY_BYTES = new Uint8Array(0);

/** The u32 of an APPLY_BATCH answer: the records applied. */
export function encodeAppliedCount(applied: number): Uint8Array {
  const bytes = new Uint8Array(4);
  putU32(bytes, 0, applied);
  return bytes;
}

export function decodeAppliedCount(message: Uint8Array, header: HopHeader): number | undefined {
  if (header.valueLength !== 4) return undefined;
  return u32(message, HOP_HEADER_BYTES + header.keyLength);
}

/** One entry of a page as bytes (views of a copy of the page): what the wire sends, undecoded. */
export interface SnapshotRecordBytes {
  readonly key: Buffer;
  readonly value: Buffer;
  readonly version: Version;
  readonly tombstone: boolean;
}

/**
 * Decodes the page in a SNAPSHOT answer without decoding its strings: the page is copied out of the
 * ring once, and keys and values are views of that copy (for the main thread's snapshot transfers,
 * which send the bytes on as they are). Throws like decodeSnapshotPage.
 */
export function decodeSnapshotPageBytes(
  message: Uint8Array,
  header: HopHeader,
): { records: SnapshotRecordBytes[]; next: SnapshotCursor | undefined } {
  const start = HOP_HEADER_BYTES + header.keyLength;
  const end = start + header.valueLength;
  if (header.valueLength < PAGE_HEAD_BYTES || end > message.byteLength) {
    throw new RangeError(`a snapshot page of ${header.valueLength} bytes is shorter than its head`);
  }
  const page = Buffer.from(message.subarray(start, end)); // a copy: the ring's bytes are reused
  const session = u32(page, 0);
  const position = u32(page, 8) * TWO_TO_32 + u32(page, 4);
  const done = u32(page, 12) === 1;
  const count = u32(page, 16);
  const records: SnapshotRecordBytes[] = new Array(count);
  let at = PAGE_HEAD_BYTES;
  for (let i = 0; i < count; i++) {
    if (at + SNAPSHOT_RECORD_HEAD_BYTES > page.length)
      throw new RangeError('a snapshot page ends inside a record');
    const tombstone = (page[at]! & HopFlag.TOMBSTONE) !== 0;
    const wall = u32(page, at + 8) * TWO_TO_32 + u32(page, at + 4);
    const version = { wall, counter: u32(page, at + 12), node: u32(page, at + 16) };
    const keyLength = u32(page, at + 20);
    const valueLength = u32(page, at + 24);
    at += SNAPSHOT_RECORD_HEAD_BYTES;
    if (at + keyLength + valueLength > page.length)
      throw new RangeError('a snapshot record overruns its page');
    const key = page.subarray(at, at + keyLength);
    at += keyLength;
    const value = page.subarray(at, at + valueLength);
    at += valueLength;
    records[i] = { key, value, version, tombstone };
  }
  return { records, next: done ? undefined : { session, position } };
}
