/**
 * Turns request bytes into typed operations, or a LallyError that names what was wrong. Pure functions:
 * the uWS glue calls them, the tests call them directly.
 */
import { ErrorCodes, LallyError } from '../errors.js';

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

const decoder = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 text of a body; a body that is not valid UTF-8 is a client error, not a crash. */
export function decodeUtf8(bytes: Uint8Array, what: string): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new LallyError(ErrorCodes.BAD_REQUEST, `${what} is not valid UTF-8`);
  }
}

/** The body as JSON: any JSON value, or INVALID_JSON naming what was wrong. */
function parseJson(bytes: Uint8Array, expected: string): unknown {
  const text = decodeUtf8(bytes, 'the request body');
  if (text.trim() === '') {
    throw new LallyError(ErrorCodes.INVALID_JSON, `the request body is empty; expected ${expected}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new LallyError(
      ErrorCodes.INVALID_JSON,
      `the request body is not valid JSON: ${(error as Error).message}`,
    );
  }
}

function parseJsonObject(bytes: Uint8Array): Record<string, unknown> {
  const parsed = parseJson(bytes, 'a JSON object');
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new LallyError(
      ErrorCodes.INVALID_JSON,
      `the request body must be a JSON object, got ${describe(parsed)}`,
    );
  }
  return parsed as Record<string, unknown>;
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
  const body = parseJsonObject(bytes);
  const key = checkKey(stringField(body, 'key', true)!, limits);
  const value = stringField(body, 'value', needsValue);
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
  const parsed = parseJson(bytes, 'a JSON array of operations or {"ops": [...]}');
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
    return {
      op,
      key,
      value: op === 'put' ? checkValue(value!, limits, `${where}value`) : undefined,
    };
  });
}

/** The key of a /kv/{key} URL: everything after the prefix, percent-decoded. */
export function keyFromPath(url: string, prefix: string, limits: RequestLimits): string {
  const raw = url.slice(prefix.length);
  let key: string;
  try {
    key = decodeURIComponent(raw);
  } catch {
    throw new LallyError(
      ErrorCodes.BAD_REQUEST,
      `the key in the URL is not valid percent-encoding: ${raw.slice(0, 100)}`,
    );
  }
  return checkKey(key, limits, 'the key');
}
