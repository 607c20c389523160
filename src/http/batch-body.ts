/**
 * A fast parse of the usual /batch body, the one JSON.stringify makes of
 * `{"ops":[{"op":"get","key":"..."},{"op":"put","key":"...","value":"..."}]}` (or of the array alone):
 * no whitespace, the fields in that order, printable ASCII strings without escapes. It scans the
 * body's bytes once and keeps each key as a span of them (BodyOp), where JSON.parse would decode the
 * body and build an object and a string per operation, and parseBatchBody a second object. Anything else, and anything that is not valid (a limit
 * passed, an empty key), is left to parseBatchBody's JSON.parse path, which gives the answer and
 * the error messages: this one only ever answers the ops of a body that path would accept, the same.
 */
import type { BatchOp, BatchOpName, RequestLimits } from './request-parsing.js';

/** Buffer#latin1Slice on any Uint8Array (Node 20; not in the typings). */
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice(start: number, end: number): string })
  .latin1Slice;

/** Strings longer than this are left to JSON.parse (a loop over them would cost more). */
const LONGEST = 4096;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

const OPS_OPEN = ascii('{"ops":[');
const OP_OPEN = ascii('{"op":"');
const KEY_OPEN = ascii('","key":"');
const VALUE_OPEN = ascii(',"value":"');
const GET_QUOTE = ascii('get"');
const PUT_QUOTE = ascii('put"');
const REMOVE_QUOTE = ascii('remove"');

/**
 * An operation that fastBatchOps read. Its key is `body[keyStart, keyEnd)`: printable ASCII without
 * `"` or `\`, so those bytes are both the key's UTF-8 and its JSON text, and a GET can be routed,
 * looked up and answered from them (KeyValueService.readNowBytes) without a string. The string is
 * made the first time something asks for `key`.
 *
 * `body` is the request's body as uWS handed it over, which it reclaims once the request handler
 * returns: a batch that runs on after that is detached first (detachBodyOps), and its ops then use
 * their keys' strings, as ops of any other body do. A copy of the body would do too, but a copy is
 * malloc'd memory of the body's size, and glibc kept enough of those after a load (bodies of up to
 * a few MiB) to add 40 bytes per key to the resident memory at rest (measured, 1M keys).
 */
export class BodyOp implements BatchOp {
  readonly op: BatchOpName;
  readonly value: string | undefined;
  /** The request body; undefined once detached. */
  body: Uint8Array | undefined;
  readonly keyStart: number;
  readonly keyEnd: number;
  #key: string | undefined;

  constructor(
    op: BatchOpName,
    body: Uint8Array,
    keyStart: number,
    keyEnd: number,
    value: string | undefined,
  ) {
    this.op = op;
    this.body = body;
    this.keyStart = keyStart;
    this.keyEnd = keyEnd;
    this.value = value;
  }

  get key(): string {
    if (this.#key === undefined) this.#key = latin1Slice.call(this.body!, this.keyStart, this.keyEnd);
    return this.#key;
  }

  /** Takes the key's string and lets the body go. */
  detach(): void {
    if (this.body === undefined) return;
    this.#key ??= latin1Slice.call(this.body, this.keyStart, this.keyEnd);
    this.body = undefined;
  }
}

/**
 * Makes the ops independent of the request body: for a batch that goes on after its request handler
 * returned (a hop, a sync, a queue), since uWS reclaims the body then.
 */
export function detachBodyOps(ops: readonly BatchOp[]): void {
  for (const op of ops) if (op instanceof BodyOp) op.detach();
}

/** The key's length in UTF-16 units (a BodyOp's key is ASCII: its bytes), without making its string. */
export function keyUnits(op: BatchOp): number {
  return op instanceof BodyOp ? op.keyEnd - op.keyStart : op.key.length;
}

/** The ops of `bytes`, or undefined when the body is not of the usual shape (or not valid). */
export function fastBatchOps(bytes: Uint8Array, limits: RequestLimits): BatchOp[] | undefined {
  // A body that starts with anything else (a byte order mark, whitespace) takes the usual path.
  const first = bytes[0];
  let i: number;
  let wrapped: boolean;
  if (first === 0x7b && startsWith(bytes, 0, OPS_OPEN)) {
    i = OPS_OPEN.length;
    wrapped = true;
  } else if (first === 0x5b) {
    i = 1;
    wrapped = false;
  } else return undefined;
  // Every byte of an accepted body is matched below as structure or as printable ASCII: an accepted
  // body is ASCII, so it needs no UTF-8 check, and its offsets are its characters' offsets.
  const n = bytes.length;
  const ops: BatchOp[] = [];
  const maxOps = limits.maxBatchOps;
  if (bytes[i] === 0x5d) i++;
  else {
    for (;;) {
      if (!startsWith(bytes, i, OP_OPEN)) return undefined;
      i += OP_OPEN.length;
      const op = opAt(bytes, i);
      if (op === undefined) return undefined;
      i += op.length;
      if (!startsWith(bytes, i, KEY_OPEN)) return undefined;
      const keyStart = i + KEY_OPEN.length;
      const keyEnd = stringEnd(bytes, keyStart);
      if (keyEnd < 0 || keyEnd === keyStart || keyEnd - keyStart > limits.maxKeyBytes) return undefined;
      i = keyEnd + 1;
      let value: string | undefined;
      if (startsWith(bytes, i, VALUE_OPEN)) {
        const valueStart = i + VALUE_OPEN.length;
        const valueEnd = stringEnd(bytes, valueStart);
        if (valueEnd < 0) return undefined;
        if (op.name === 'put') {
          if (valueEnd - valueStart > limits.maxValueBytes) return undefined;
          // A copy, not a slice: the store keeps it (a slice would keep the whole body alive).
          value = latin1Slice.call(bytes, valueStart, valueEnd);
        }
        i = valueEnd + 1;
      } else if (op.name === 'put') return undefined;
      if (bytes[i] !== 0x7d) return undefined;
      i++;
      if (ops.length === maxOps) return undefined; // the usual path says how many is too many
      ops.push(new BodyOp(op.name, bytes, keyStart, keyEnd, value));
      const c = bytes[i++];
      if (c === 0x2c) continue;
      if (c === 0x5d) break;
      return undefined;
    }
  }
  if (wrapped) {
    if (bytes[i] !== 0x7d) return undefined;
    i++;
  }
  return i === n ? ops : undefined;
}

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/** Whether `bytes` holds `prefix` at `at`. */
function startsWith(bytes: Uint8Array, at: number, prefix: Uint8Array): boolean {
  if (at + prefix.length > bytes.length) return false;
  for (let k = 0; k < prefix.length; k++) if (bytes[at + k] !== prefix[k]) return false;
  return true;
}

interface OpName {
  readonly name: BatchOpName;
  /** The name's length in the body. */
  readonly length: number;
}

const GET: OpName = { name: 'get', length: 3 };
const PUT: OpName = { name: 'put', length: 3 };
const REMOVE: OpName = { name: 'remove', length: 6 };

/** get, put or remove spelled so at `i`, followed by its closing quote; undefined for anything else. */
function opAt(bytes: Uint8Array, i: number): OpName | undefined {
  const c = bytes[i];
  if (c === 0x67 && startsWith(bytes, i, GET_QUOTE)) return GET;
  if (c === 0x70 && startsWith(bytes, i, PUT_QUOTE)) return PUT;
  if (c === 0x72 && startsWith(bytes, i, REMOVE_QUOTE)) return REMOVE;
  return undefined;
}

/** Where the string starting at `start` ends (its closing quote), or -1 when it holds more than printable ASCII. */
function stringEnd(bytes: Uint8Array, start: number): number {
  const limit = Math.min(bytes.length, start + LONGEST + 1);
  for (let i = start; i < limit; i++) {
    const c = bytes[i]!;
    if (c === QUOTE) return i;
    if (c < 0x20 || c > 0x7e || c === BACKSLASH) return -1;
  }
  return -1;
}
