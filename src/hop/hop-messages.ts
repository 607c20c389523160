/**
 * The binary layout of every message that hops between threads over the rings (see docs/rings.md for
 * the ring framing around it). Encoder and decoder sit side by side so that they cannot drift.
 *
 *   offset size field
 *        0    1 kind          (HopKind)
 *        1    1 status        (HopStatus, responses only)
 *        2    1 answering     (the HopKind of the request a RESULT answers; 0 in requests)
 *        3    1 reserved
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
 */
import type { Version } from '../clock/hlc.js';

export const HOP_HEADER_BYTES = 32;

const TWO_TO_32 = 2 ** 32;

export const HopKind = {
  GET: 1,
  PUT: 2,
  REMOVE: 3,
  STATS: 4,
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

/** A decoded message. `key` and `value` are decoded lazily by the caller from `bytes`. */
export interface HopHeader {
  kind: number;
  status: number;
  /** In a RESULT: the kind of the request it answers (the requester picks the answer's shape by it). */
  answering: number;
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
  ): Uint8Array {
    const view = this.#view;
    view.setUint8(0, kind);
    view.setUint8(1, status);
    view.setUint8(2, answering);
    view.setUint8(3, 0);
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

/** A little-endian u32 read without a DataView: this runs for every message, and views allocate. */
function u32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

export function readHopHeader(message: Uint8Array, into: HopHeader): HopHeader {
  into.kind = message[0]!;
  into.status = message[1]!;
  into.answering = message[2]!;
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
