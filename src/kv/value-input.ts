/**
 * A value as the write path carries it: its UTF-8 bytes (an HTTP body, a ring message, an AOF record)
 * or a string (a JSON body's field, a test). Bytes are never decoded on the way to the store, the AOF
 * and the rings; only a hook or an answer that shows the value asks for its text.
 *
 * Bytes handed to a key-value service are valid only during the call (they may be uWS's own chunk or a
 * ring's shared memory): whoever keeps them past it copies them (copyValue).
 */
export type ValueInput = string | Uint8Array;

/** UTF-8 byte length of a value. */
export function valueByteLength(value: ValueInput): number {
  if (typeof value !== 'string') return value.byteLength;
  return value.length === 0 ? 0 : Buffer.byteLength(value, 'utf8');
}

const utf8Slice = (
  Buffer.prototype as unknown as { utf8Slice: (this: Uint8Array, start: number, end: number) => string }
).utf8Slice;

/** The text of UTF-8 bytes (views of SharedArrayBuffers too, which TextDecoder refuses). */
export function decodeUtf8Bytes(bytes: Uint8Array): string {
  return bytes.length === 0 ? '' : utf8Slice.call(bytes, 0, bytes.length);
}

/** The value's text. Bytes are valid UTF-8 by then (checked where they entered): nothing is replaced. */
export function valueText(value: ValueInput): string {
  return typeof value === 'string' ? value : decodeUtf8Bytes(value);
}

/** A value that outlives the call it came with: bytes are copied, a string is kept. */
export function copyValue(value: ValueInput): ValueInput {
  return typeof value === 'string' ? value : value.slice();
}
