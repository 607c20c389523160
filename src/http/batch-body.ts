/**
 * A fast parse of the usual /batch body, the one JSON.stringify makes of
 * `{"ops":[{"op":"get","key":"..."},{"op":"put","key":"...","value":"..."}]}` (or of the array alone):
 * no whitespace, the fields in that order, printable ASCII strings without escapes. It scans the
 * decoded text once and takes the keys as slices of it, where JSON.parse would build an object per
 * operation and parseBatchBody a second one. Anything else, and anything that is not valid (a limit
 * passed, an empty key), is left to parseBatchBody's JSON.parse path, which gives the answer and
 * the error messages: this one only ever answers the ops of a body that path would accept, the same.
 */
import type { BatchOp, BatchOpName, RequestLimits } from './request-parsing.js';

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Buffer#latin1Slice on any Uint8Array (Node 20; not in the typings). */
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice(start: number, end: number): string })
  .latin1Slice;

/** Strings longer than this are left to JSON.parse (a loop over them would cost more). */
const LONGEST = 4096;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** The ops of `bytes`, or undefined when the body is not of the usual shape (or not valid). */
export function fastBatchOps(bytes: Uint8Array, limits: RequestLimits): BatchOp[] | undefined {
  // A body that starts with anything else (a byte order mark, whitespace) takes the usual path.
  const first = bytes[0];
  if (first !== 0x7b && first !== 0x5b) return undefined;
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    return undefined;
  }
  const n = text.length;
  let i: number;
  let wrapped: boolean;
  if (text.startsWith('{"ops":[')) {
    i = 8;
    wrapped = true;
  } else if (first === 0x5b) {
    i = 1;
    wrapped = false;
  } else return undefined;
  const ops: BatchOp[] = [];
  const maxOps = limits.maxBatchOps;
  if (text.charCodeAt(i) === 0x5d) i++;
  else {
    for (;;) {
      if (!text.startsWith('{"op":"', i)) return undefined;
      i += 7;
      const op = opAt(text, i);
      if (op === undefined) return undefined;
      i += op.length;
      if (!text.startsWith('","key":"', i)) return undefined;
      const keyStart = i + 9;
      const keyEnd = stringEnd(text, keyStart);
      if (keyEnd < 0 || keyEnd === keyStart || keyEnd - keyStart > limits.maxKeyBytes) return undefined;
      i = keyEnd + 1;
      let value: string | undefined;
      if (text.startsWith(',"value":"', i)) {
        const valueStart = i + 10;
        const valueEnd = stringEnd(text, valueStart);
        if (valueEnd < 0) return undefined;
        if (op.name === 'put') {
          if (valueEnd - valueStart > limits.maxValueBytes) return undefined;
          // A copy, not a slice: the store keeps it (a slice would keep the whole body alive).
          value = latin1Slice.call(bytes, valueStart, valueEnd);
        }
        i = valueEnd + 1;
      } else if (op.name === 'put') return undefined;
      if (text.charCodeAt(i) !== 0x7d) return undefined;
      i++;
      // Text is all ASCII here: its offsets are the bytes' offsets.
      const key =
        op.name === 'get' ? text.slice(keyStart, keyEnd) : latin1Slice.call(bytes, keyStart, keyEnd);
      if (ops.length === maxOps) return undefined; // the usual path says how many is too many
      ops.push({ op: op.name, key, value });
      const c = text.charCodeAt(i++);
      if (c === 0x2c) continue;
      if (c === 0x5d) break;
      return undefined;
    }
  }
  if (wrapped) {
    if (text.charCodeAt(i) !== 0x7d) return undefined;
    i++;
  }
  return i === n ? ops : undefined;
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
function opAt(text: string, i: number): OpName | undefined {
  const c = text.charCodeAt(i);
  if (c === 0x67 && text.startsWith('get"', i)) return GET;
  if (c === 0x70 && text.startsWith('put"', i)) return PUT;
  if (c === 0x72 && text.startsWith('remove"', i)) return REMOVE;
  return undefined;
}

/** Where the string starting at `start` ends (its closing quote), or -1 when it holds more than printable ASCII. */
function stringEnd(text: string, start: number): number {
  const limit = Math.min(text.length, start + LONGEST + 1);
  for (let i = start; i < limit; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) return i;
    if (c < 0x20 || c > 0x7e || c === BACKSLASH) return -1;
  }
  return -1;
}
