/**
 * Turns request bytes into typed operations, or a LallyError that names what was wrong. Pure functions:
 * the uWS glue calls them, the tests call them directly.
 */
import { isUtf8 } from 'node:buffer';
import { ErrorCodes, LallyError } from '../errors.js';
import { fastBatchOps } from './batch-body.js';

export interface RequestLimits {
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
  readonly maxBodyBytes: number;
  readonly maxBatchOps: number;
}

export type BatchOpName = 'get' | 'put' | 'remove';

export interface BatchOp {
  readonly op: BatchOpName;
  readonly key: string;
  /** Present for put. */
  readonly value: string | undefined;
}

export interface KeyValueBody {
  readonly key: string;
  readonly value: string | undefined;
}

// Bodies parsed as JSON may start with a byte order mark (outside every string: dropped); a REST value
// is stored byte for byte, so its decoder keeps a leading BOM.
const jsonDecoder = new TextDecoder('utf-8', { fatal: true });
const valueDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * UTF-8 text of a body or a REST value; bytes that are not valid UTF-8 are a client error (never
 * replaced by U+FFFD: a key or value means the same bytes on every path).
 */
export function decodeUtf8(bytes: Uint8Array, what: string): string {
  return decodeWith(valueDecoder, bytes, what);
}

/**
 * Checks that a REST value is valid UTF-8 without decoding it (the value stays bytes to the store):
 * the same error as decodeUtf8. About 1 µs for 64 KiB, where a decode costs tens.
 */
export function checkUtf8(bytes: Uint8Array, what: string): Uint8Array {
  if (!isUtf8(bytes)) throw new LallyError(ErrorCodes.INVALID_TEXT, `${what} is not valid UTF-8`);
  return bytes;
}

function decodeWith(decoder: { decode(bytes: Uint8Array): string }, bytes: Uint8Array, what: string): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new LallyError(ErrorCodes.INVALID_TEXT, `${what} is not valid UTF-8`);
  }
}

/** `String.prototype.isWellFormed` (Node 20; not in the es2023 typings). */
interface WellFormedString {
  isWellFormed(): boolean;
}

/**
 * Keys and values travel between shards as UTF-8, where a lone UTF-16 surrogate (JSON's "\ud800")
 * has no encoding and would turn into U+FFFD: the same key would then be two keys depending on which
 * shard got the connection. So they are refused. isWellFormed is O(1) on one-byte (Latin-1) strings.
 */
export function checkWellFormed(text: string, where: string): void {
  if (!(text as unknown as WellFormedString).isWellFormed()) {
    throw new LallyError(
      ErrorCodes.INVALID_TEXT,
      `${where} holds a lone UTF-16 surrogate (an unpaired \\uD800-\\uDFFF escape), which is not valid Unicode text`,
    );
  }
}

interface ParsedJson {
  readonly value: unknown;
  /**
   * Whether the source holds a `\u` escape. Text decoded from valid UTF-8 is well-formed, so only an
   * escape can make JSON.parse produce a lone surrogate: without one, no string needs checking.
   */
  readonly escapes: boolean;
}

/** The body as JSON: any JSON value, or INVALID_JSON naming what was wrong. */
function parseJson(bytes: Uint8Array, expected: string): ParsedJson {
  const text = decodeWith(jsonDecoder, bytes, 'the request body');
  if (text.trim() === '') {
    throw new LallyError(ErrorCodes.INVALID_JSON, `the request body is empty; expected ${expected}`);
  }
  try {
    return { value: JSON.parse(text), escapes: text.includes('\\u') };
  } catch (error) {
    throw new LallyError(
      ErrorCodes.INVALID_JSON,
      `the request body is not valid JSON: ${(error as Error).message}`,
    );
  }
}

function parseJsonObject(bytes: Uint8Array): { body: Record<string, unknown>; escapes: boolean } {
  const { value: parsed, escapes } = parseJson(bytes, 'a JSON object');
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new LallyError(
      ErrorCodes.INVALID_JSON,
      `the request body must be a JSON object, got ${describe(parsed)}`,
    );
  }
  return { body: parsed as Record<string, unknown>, escapes };
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

export function checkKey(key: string, limits: RequestLimits, where = '"key"'): string {
  if (key.length === 0) throw new LallyError(ErrorCodes.INVALID_FIELD, `${where} must not be empty`);
  // A UTF-16 length above the byte limit may still fit (never below it): count bytes only when needed.
  if (key.length * 3 > limits.maxKeyBytes) {
    const bytes = Buffer.byteLength(key, 'utf8');
    if (bytes > limits.maxKeyBytes) {
      throw new LallyError(
        ErrorCodes.KEY_TOO_LARGE,
        `${where} is ${bytes} bytes; the limit is ${limits.maxKeyBytes} (max_key_bytes)`,
      );
    }
  }
  return key;
}

export function checkValueBytes(bytes: number, limits: RequestLimits, where = '"value"'): void {
  if (bytes > limits.maxValueBytes) {
    throw new LallyError(
      ErrorCodes.VALUE_TOO_LARGE,
      `${where} is ${bytes} bytes; the limit is ${limits.maxValueBytes} (max_value_bytes)`,
    );
  }
}

export function checkValue(value: string, limits: RequestLimits, where = '"value"'): string {
  if (value.length * 3 > limits.maxValueBytes)
    checkValueBytes(Buffer.byteLength(value, 'utf8'), limits, where);
  return value;
}

function stringField(
  object: Record<string, unknown>,
  field: string,
  required: boolean,
  where = '',
): string | undefined {
  const value = object[field];
  if (value === undefined || value === null) {
    if (required) throw new LallyError(ErrorCodes.MISSING_FIELD, `missing required field: ${where}${field}`);
    return undefined;
  }
  if (typeof value !== 'string') {
    throw new LallyError(
      ErrorCodes.INVALID_FIELD,
      `${where}${field} must be a string, got ${describe(value)}`,
    );
  }
  return value;
}

/** Body of upstream's POST /add, POST /get and DELETE /remove: `{"key": "...", "value": "..."}`. */
export function parseKeyValueBody(
  bytes: Uint8Array,
  needsValue: boolean,
  limits: RequestLimits,
): KeyValueBody {
  const { body, escapes } = parseJsonObject(bytes);
  const key = checkKey(stringField(body, 'key', true)!, limits);
  const value = stringField(body, 'value', needsValue);
  if (escapes) {
    checkWellFormed(key, '"key"');
    if (value !== undefined) checkWellFormed(value, '"value"');
  }
  return { key, value: value === undefined ? undefined : checkValue(value, limits) };
}

const OP_ALIASES: Readonly<Record<string, BatchOpName>> = {
  get: 'get',
  put: 'put',
  add: 'put',
  set: 'put',
  remove: 'remove',
  delete: 'remove',
  del: 'remove',
};

/** Body of POST /batch: `{"ops": [{"op": "get"|"put"|"remove", "key": "...", "value": "..."}]}` or the array alone. */
export function parseBatchBody(bytes: Uint8Array, limits: RequestLimits): BatchOp[] {
  // The usual shape, valid, without JSON.parse (src/http/batch-body.ts); anything else below.
  const fast = fastBatchOps(bytes, limits);
  if (fast !== undefined) return fast;
  const { value: parsed, escapes } = parseJson(bytes, 'a JSON array of operations or {"ops": [...]}');
  const list = Array.isArray(parsed) ? parsed : (parsed as { ops?: unknown } | null)?.ops;
  if (!Array.isArray(list)) {
    throw new LallyError(
      ErrorCodes.INVALID_FIELD,
      'a batch must be a JSON array of operations or an object {"ops": [...]}',
    );
  }
  if (list.length > limits.maxBatchOps) {
    throw new LallyError(
      ErrorCodes.BATCH_TOO_LARGE,
      `the batch has ${list.length} operations; the limit is ${limits.maxBatchOps} (max_batch_ops)`,
    );
  }
  return list.map((item: unknown, index) => {
    const where = `ops[${index}].`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw new LallyError(
        ErrorCodes.INVALID_FIELD,
        `ops[${index}] must be an object, got ${describe(item)}`,
      );
    }
    const object = item as Record<string, unknown>;
    const opName = stringField(object, 'op', true, where)!;
    const op = Object.hasOwn(OP_ALIASES, opName.toLowerCase()) ? OP_ALIASES[opName.toLowerCase()] : undefined;
    if (op === undefined) {
      throw new LallyError(
        ErrorCodes.INVALID_FIELD,
        `${where}op must be one of get, put, remove (or add, set, delete), got "${opName}"`,
      );
    }
    const key = checkKey(stringField(object, 'key', true, where)!, limits, `${where}key`);
    const value = stringField(object, 'value', op === 'put', where);
    if (escapes) {
      checkWellFormed(key, `${where}key`);
      if (value !== undefined) checkWellFormed(value, `${where}value`);
    }
    return {
      op,
      key,
      value: op === 'put' ? checkValue(value!, limits, `${where}value`) : undefined,
    };
  });
}

const MALFORMED_PERCENT = /%(?![0-9a-fA-F]{2})/;

/**
 * The key of a /kv/{key} URL: everything after the prefix, percent-decoded. uWS hands the URL over
 * decoded as UTF-8 with every invalid byte replaced by U+FFFD, so a raw U+FFFD may stand for bytes that
 * were not UTF-8: it is refused (percent-encoding, which URLs require for non-ASCII anyway, can carry
 * U+FFFD as %EF%BF%BD). decodeURIComponent itself refuses escapes that are not UTF-8 (a surrogate's
 * %ED%A0%80 included).
 */
export function keyFromPath(url: string, prefix: string, limits: RequestLimits): string {
  const raw = url.slice(prefix.length);
  if (raw.includes('\uFFFD')) {
    throw new LallyError(
      ErrorCodes.INVALID_TEXT,
      "the key in the URL holds bytes that are not valid UTF-8; percent-encode the key's UTF-8 bytes",
    );
  }
  let key: string;
  try {
    key = decodeURIComponent(raw);
  } catch {
    if (MALFORMED_PERCENT.test(raw)) {
      throw new LallyError(
        ErrorCodes.BAD_REQUEST,
        `the key in the URL is not valid percent-encoding: ${raw.slice(0, 100)}`,
      );
    }
    throw new LallyError(
      ErrorCodes.INVALID_TEXT,
      `the key in the URL percent-encodes bytes that are not valid UTF-8: ${raw.slice(0, 100)}`,
    );
  }
  return checkKey(key, limits, 'the key');
}
