import t, { type Test } from 'tap';
import { ErrorCodes, LallyError } from '../../src/errors.js';
import {
  checkKey,
  checkValue,
  checkValueBytes,
  decodeUtf8,
  keyFromPath,
  parseBatchBody,
  parseKeyValueBody,
  type RequestLimits,
} from '../../src/http/request-parsing.js';
import { plainOps } from '../fixtures/batch-ops.js';

const limits: RequestLimits = { maxKeyBytes: 10, maxValueBytes: 20, maxBodyBytes: 1000, maxBatchOps: 3 };

/** parseBatchBody's ops as plain objects (test/fixtures/batch-ops.ts). */
function parsedBatch(bytes: Uint8Array, batchLimits: RequestLimits) {
  return plainOps(parseBatchBody(bytes, batchLimits));
}

function body(value: unknown): Buffer {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value), 'utf8');
}

/** The LallyError a call throws (failing the test when it throws something else or nothing). */
function thrown(t: Test, fn: () => unknown): LallyError | undefined {
  try {
    fn();
  } catch (error) {
    t.ok(error instanceof LallyError, 'throws a LallyError');
    return error as LallyError;
  }
  t.fail('expected a throw');
  return undefined;
}

t.test('decodeUtf8', async (t) => {
  t.equal(decodeUtf8(body('héllo 🔑'), 'x'), 'héllo 🔑');
  t.equal(decodeUtf8(new Uint8Array(0), 'x'), '');
  t.throws(() => decodeUtf8(Uint8Array.of(0x61, 0xff), 'the thing'), {
    code: ErrorCodes.INVALID_TEXT,
    message: 'the thing is not valid UTF-8',
  });
  // Truncated multi-byte sequence and an overlong encoding are both rejected.
  t.throws(() => decodeUtf8(Uint8Array.of(0xe2, 0x82), 'b'), { code: ErrorCodes.INVALID_TEXT });
  t.throws(() => decodeUtf8(Uint8Array.of(0xc0, 0xaf), 'b'), { code: ErrorCodes.INVALID_TEXT });
  // An encoded surrogate is not valid UTF-8 either.
  t.throws(() => decodeUtf8(Uint8Array.of(0xed, 0xa0, 0x80), 'b'), { code: ErrorCodes.INVALID_TEXT });
  // A value is kept byte for byte: a leading byte order mark is part of it.
  t.equal(decodeUtf8(Uint8Array.of(0xef, 0xbb, 0xbf, 0x61), 'the value'), '\uFEFFa');
});

t.test('lone surrogates are refused in keys and values on every JSON path', async (t) => {
  const wide = { ...limits, maxKeyBytes: 100, maxValueBytes: 100 };
  const cases: [string, () => unknown, RegExp][] = [
    ['key', () => parseKeyValueBody(body('{"key":"sur\\ud800","value":"v"}'), true, wide), /^"key" holds/],
    ['low half', () => parseKeyValueBody(body('{"key":"\\udc00"}'), false, wide), /^"key" holds/],
    ['value', () => parseKeyValueBody(body('{"key":"k","value":"x\\uDBFF"}'), true, wide), /^"value" holds/],
    ['reversed pair', () => parseKeyValueBody(body('{"key":"\\udc00\\ud800"}'), false, wide), /^"key" holds/],
    ['batch key', () => parseBatchBody(body('[{"op":"get","key":"\\ud800"}]'), wide), /^ops\[0\]\.key holds/],
    [
      'batch value',
      () =>
        parseBatchBody(
          body('{"ops":[{"op":"put","key":"k","value":"a"},{"op":"put","key":"k","value":"\\ud800"}]}'),
          wide,
        ),
      /^ops\[1\]\.value holds/,
    ],
    [
      'value on get',
      () => parseKeyValueBody(body('{"key":"k","value":"\\ud800"}'), false, wide),
      /^"value" holds/,
    ],
  ];
  for (const [name, fn, message] of cases) {
    const error = thrown(t, fn);
    t.equal(error?.code, ErrorCodes.INVALID_TEXT, `${name}: code`);
    t.match(error?.message, message, `${name}: message`);
    t.equal(error?.httpStatus, 400, `${name}: 400`);
  }
  // Pairs, escaped or not, are text; so is an escaped backslash before a "u".
  t.same(parseKeyValueBody(body('{"key":"\\ud83d\\udd11","value":"🔑"}'), true, wide), {
    key: '🔑',
    value: '🔑',
  });
  t.same(parseKeyValueBody(body('{"key":"\\\\ud800"}'), false, wide), { key: '\\ud800', value: undefined });
  t.same(parsedBatch(body('[{"op":"get","key":"\\u00e9"}]'), wide), [
    { op: 'get', key: 'é', value: undefined },
  ]);
});

t.test('parseKeyValueBody: valid bodies', async (t) => {
  t.same(parseKeyValueBody(body({ key: 'k', value: 'v' }), true, limits), { key: 'k', value: 'v' });
  t.same(parseKeyValueBody(body({ key: 'k' }), false, limits), { key: 'k', value: undefined });
  t.same(parseKeyValueBody(body({ key: 'k', value: null }), false, limits), { key: 'k', value: undefined });
  t.same(parseKeyValueBody(body({ key: 'k', value: 'v' }), false, limits), { key: 'k', value: 'v' });
  t.same(
    parseKeyValueBody(body({ key: 'k', value: '' }), true, limits),
    { key: 'k', value: '' },
    'empty value',
  );
  t.same(
    parseKeyValueBody(body({ key: 'ключ', value: '🔑🔑🔑🔑🔑' }), true, limits),
    { key: 'ключ', value: '🔑🔑🔑🔑🔑' },
    'multi-byte key (8 bytes) and value (20 bytes) at their limits',
  );
  t.same(
    parseKeyValueBody(body('  \n{"key":"k","value":"v","extra":1}\t'), true, limits),
    { key: 'k', value: 'v' },
    'whitespace and unknown fields are fine',
  );
  t.same(parseKeyValueBody(body({ key: '__proto__', value: 'x' }), true, limits), {
    key: '__proto__',
    value: 'x',
  });
});

t.test('parseKeyValueBody: body errors', async (t) => {
  const cases: [string, Uint8Array, string, RegExp][] = [
    ['empty body', new Uint8Array(0), ErrorCodes.INVALID_JSON, /body is empty/],
    ['blank body', body('  \n\t '), ErrorCodes.INVALID_JSON, /body is empty/],
    ['invalid JSON', body('{"key": '), ErrorCodes.INVALID_JSON, /^the request body is not valid JSON: /],
    ['trailing garbage', body('{"key":"k"} x'), ErrorCodes.INVALID_JSON, /not valid JSON/],
    ['array', body('[{"key":"k"}]'), ErrorCodes.INVALID_JSON, /must be a JSON object, got an array$/],
    ['number', body('42'), ErrorCodes.INVALID_JSON, /must be a JSON object, got a number$/],
    ['null', body('null'), ErrorCodes.INVALID_JSON, /must be a JSON object, got null$/],
    ['string', body('"key"'), ErrorCodes.INVALID_JSON, /must be a JSON object, got a string$/],
    ['boolean', body('true'), ErrorCodes.INVALID_JSON, /must be a JSON object, got a boolean$/],
    [
      'invalid UTF-8',
      Uint8Array.of(0x7b, 0xff, 0x7d),
      ErrorCodes.INVALID_TEXT,
      /^the request body is not valid UTF-8$/,
    ],
  ];
  for (const [name, bytes, code, message] of cases) {
    const error = thrown(t, () => parseKeyValueBody(bytes, true, limits));
    t.equal(error?.code, code, `${name}: code`);
    t.match(error?.message, message, `${name}: message`);
  }
});

t.test('parseKeyValueBody: field errors', async (t) => {
  const cases: [string, unknown, boolean, string, string][] = [
    ['missing key', { value: 'v' }, true, ErrorCodes.MISSING_FIELD, 'missing required field: key'],
    ['null key', { key: null }, false, ErrorCodes.MISSING_FIELD, 'missing required field: key'],
    [
      'numeric key',
      { key: 1, value: 'v' },
      true,
      ErrorCodes.INVALID_FIELD,
      'key must be a string, got a number',
    ],
    [
      'object key',
      { key: {}, value: 'v' },
      true,
      ErrorCodes.INVALID_FIELD,
      'key must be a string, got a object',
    ],
    ['array key', { key: ['k'] }, false, ErrorCodes.INVALID_FIELD, 'key must be a string, got an array'],
    ['boolean key', { key: true }, false, ErrorCodes.INVALID_FIELD, 'key must be a string, got a boolean'],
    ['empty key', { key: '', value: 'v' }, true, ErrorCodes.INVALID_FIELD, '"key" must not be empty'],
    ['missing value', { key: 'k' }, true, ErrorCodes.MISSING_FIELD, 'missing required field: value'],
    [
      'null value',
      { key: 'k', value: null },
      true,
      ErrorCodes.MISSING_FIELD,
      'missing required field: value',
    ],
    [
      'numeric value',
      { key: 'k', value: 5 },
      true,
      ErrorCodes.INVALID_FIELD,
      'value must be a string, got a number',
    ],
    // A value of the wrong type is rejected even where no value is needed.
    [
      'object value',
      { key: 'k', value: {} },
      false,
      ErrorCodes.INVALID_FIELD,
      'value must be a string, got a object',
    ],
  ];
  for (const [name, object, needsValue, code, message] of cases) {
    const error = thrown(t, () => parseKeyValueBody(body(object), needsValue, limits));
    t.equal(error?.code, code, `${name}: code`);
    t.equal(error?.message, message, `${name}: message`);
  }
});

t.test('key size is counted in UTF-8 bytes', async (t) => {
  // ASCII: 10 bytes fit, 11 do not.
  t.equal(checkKey('a'.repeat(10), limits), 'a'.repeat(10));
  t.throws(() => checkKey('a'.repeat(11), limits), {
    code: ErrorCodes.KEY_TOO_LARGE,
    message: '"key" is 11 bytes; the limit is 10 (max_key_bytes)',
  });
  // Cyrillic: 2 bytes a char. 5 chars = 10 bytes fit, 6 chars = 12 bytes do not (only 6 UTF-16 units).
  t.equal(checkKey('ключи', limits), 'ключи');
  t.throws(() => checkKey('ключик', limits), {
    code: ErrorCodes.KEY_TOO_LARGE,
    message: '"key" is 12 bytes; the limit is 10 (max_key_bytes)',
  });
  // CJK: 3 bytes a char, 4 chars = 12 bytes.
  t.equal(checkKey('日本語', { ...limits, maxKeyBytes: 9 }), '日本語');
  t.throws(() => checkKey('日本語の', limits), { code: ErrorCodes.KEY_TOO_LARGE, message: /is 12 bytes/ });
  // Emoji: 4 bytes, 2 UTF-16 units each.
  t.equal(checkKey('🔑🔑', limits), '🔑🔑');
  t.throws(() => checkKey('🔑🔑🔑', limits), { code: ErrorCodes.KEY_TOO_LARGE, message: /is 12 bytes/ });
  // Through the body parser too.
  t.throws(() => parseKeyValueBody(body({ key: 'ключик', value: 'v' }), true, limits), {
    code: ErrorCodes.KEY_TOO_LARGE,
  });
  // The `where` label appears in the message.
  t.throws(() => checkKey('', limits, 'the key'), {
    code: ErrorCodes.INVALID_FIELD,
    message: 'the key must not be empty',
  });
});

t.test('value size is counted in UTF-8 bytes', async (t) => {
  t.equal(checkValue('v'.repeat(20), limits), 'v'.repeat(20));
  t.throws(() => checkValue('v'.repeat(21), limits), {
    code: ErrorCodes.VALUE_TOO_LARGE,
    message: '"value" is 21 bytes; the limit is 20 (max_value_bytes)',
  });
  t.equal(checkValue('é'.repeat(10), limits), 'é'.repeat(10), '20 bytes in 10 chars');
  t.throws(() => checkValue('é'.repeat(11), limits), {
    code: ErrorCodes.VALUE_TOO_LARGE,
    message: '"value" is 22 bytes; the limit is 20 (max_value_bytes)',
  });
  t.throws(() => parseKeyValueBody(body({ key: 'k', value: '🔑'.repeat(6) }), true, limits), {
    code: ErrorCodes.VALUE_TOO_LARGE,
    message: /is 24 bytes/,
  });
  // The size limit applies even when the value was optional.
  t.throws(() => parseKeyValueBody(body({ key: 'k', value: 'x'.repeat(21) }), false, limits), {
    code: ErrorCodes.VALUE_TOO_LARGE,
  });
});

t.test('checkValueBytes', async (t) => {
  t.doesNotThrow(() => checkValueBytes(0, limits));
  t.doesNotThrow(() => checkValueBytes(20, limits));
  t.throws(() => checkValueBytes(21, limits), {
    code: ErrorCodes.VALUE_TOO_LARGE,
    message: '"value" is 21 bytes; the limit is 20 (max_value_bytes)',
  });
  t.throws(() => checkValueBytes(1_000_000, limits, 'the body'), {
    code: ErrorCodes.VALUE_TOO_LARGE,
    message: 'the body is 1000000 bytes; the limit is 20 (max_value_bytes)',
  });
  const error = thrown(t, () => checkValueBytes(21, limits));
  t.equal(error?.httpStatus, 413);
});

t.test('parseBatchBody: valid batches', async (t) => {
  const ops = [
    { op: 'get', key: 'a' },
    { op: 'put', key: 'b', value: 'B' },
    { op: 'remove', key: 'c' },
  ];
  const expected = [
    { op: 'get', key: 'a', value: undefined },
    { op: 'put', key: 'b', value: 'B' },
    { op: 'remove', key: 'c', value: undefined },
  ];
  t.same(parsedBatch(body(ops), limits), expected, 'a bare array');
  t.same(parsedBatch(body({ ops }), limits), expected, 'an object with ops');
  t.same(parsedBatch(body([]), limits), [], 'an empty batch');
  t.same(parsedBatch(body({ ops: [] }), limits), []);
  // A value on get/remove is ignored (but must still be a string).
  t.same(parsedBatch(body([{ op: 'get', key: 'a', value: 'ignored' }]), limits), [
    { op: 'get', key: 'a', value: undefined },
  ]);
  t.same(parsedBatch(body([{ op: 'put', key: 'k', value: '' }]), limits), [
    { op: 'put', key: 'k', value: '' },
  ]);
});

t.test('parseBatchBody: op aliases, case-insensitive', async (t) => {
  const aliases: [string, string][] = [
    ['get', 'get'],
    ['GET', 'get'],
    ['Get', 'get'],
    ['put', 'put'],
    ['PUT', 'put'],
    ['add', 'put'],
    ['ADD', 'put'],
    ['set', 'put'],
    ['Set', 'put'],
    ['remove', 'remove'],
    ['REMOVE', 'remove'],
    ['delete', 'remove'],
    ['DELETE', 'remove'],
    ['del', 'remove'],
    ['Del', 'remove'],
  ];
  for (const [alias, op] of aliases) {
    const parsed = parsedBatch(body([{ op: alias, key: 'k', value: 'v' }]), limits);
    t.same(parsed, [{ op, key: 'k', value: op === 'put' ? 'v' : undefined }], `${alias} -> ${op}`);
  }
});

t.test('parseBatchBody: errors', async (t) => {
  const cases: [string, Uint8Array, string, string | RegExp][] = [
    [
      'invalid UTF-8',
      Uint8Array.of(0x5b, 0xc3, 0x28, 0x5d),
      ErrorCodes.INVALID_TEXT,
      'the request body is not valid UTF-8',
    ],
    ['invalid JSON', body('[{"op":'), ErrorCodes.INVALID_JSON, /^the request body is not valid JSON: /],
    [
      'empty body',
      new Uint8Array(0),
      ErrorCodes.INVALID_JSON,
      /body is empty; expected a JSON array of operations/,
    ],
    ['object without ops', body({}), ErrorCodes.INVALID_FIELD, /^a batch must be a JSON array/],
    [
      'ops not an array',
      body({ ops: { op: 'get' } }),
      ErrorCodes.INVALID_FIELD,
      /^a batch must be a JSON array/,
    ],
    ['ops a string', body({ ops: '[]' }), ErrorCodes.INVALID_FIELD, /^a batch must be a JSON array/],
    ['null', body('null'), ErrorCodes.INVALID_FIELD, /^a batch must be a JSON array/],
    ['number', body('7'), ErrorCodes.INVALID_FIELD, /^a batch must be a JSON array/],
    ['string', body('"ops"'), ErrorCodes.INVALID_FIELD, /^a batch must be a JSON array/],
    [
      'too many ops',
      body([1, 2, 3, 4].map((i) => ({ op: 'get', key: `k${i}` }))),
      ErrorCodes.BATCH_TOO_LARGE,
      'the batch has 4 operations; the limit is 3 (max_batch_ops)',
    ],
    [
      'item a number',
      body([{ op: 'get', key: 'a' }, 5]),
      ErrorCodes.INVALID_FIELD,
      'ops[1] must be an object, got a number',
    ],
    ['item null', body([null]), ErrorCodes.INVALID_FIELD, 'ops[0] must be an object, got null'],
    [
      'item an array',
      body([['get', 'k']]),
      ErrorCodes.INVALID_FIELD,
      'ops[0] must be an object, got an array',
    ],
    ['item a string', body(['get']), ErrorCodes.INVALID_FIELD, 'ops[0] must be an object, got a string'],
    ['missing op', body([{ key: 'k' }]), ErrorCodes.MISSING_FIELD, 'missing required field: ops[0].op'],
    [
      'op not a string',
      body([{ op: 1, key: 'k' }]),
      ErrorCodes.INVALID_FIELD,
      'ops[0].op must be a string, got a number',
    ],
    [
      'unknown op',
      body([{ op: 'fetch', key: 'k' }]),
      ErrorCodes.INVALID_FIELD,
      'ops[0].op must be one of get, put, remove (or add, set, delete), got "fetch"',
    ],
    ['empty op', body([{ op: '', key: 'k' }]), ErrorCodes.INVALID_FIELD, /got ""$/],
    // Names that exist on Object.prototype are not operations.
    [
      'op constructor',
      body([{ op: 'constructor', key: 'k' }]),
      ErrorCodes.INVALID_FIELD,
      /got "constructor"$/,
    ],
    ['op __proto__', body([{ op: '__proto__', key: 'k' }]), ErrorCodes.INVALID_FIELD, /got "__proto__"$/],
    ['op toString', body([{ op: 'toString', key: 'k' }]), ErrorCodes.INVALID_FIELD, /got "toString"$/],
    ['missing key', body([{ op: 'get' }]), ErrorCodes.MISSING_FIELD, 'missing required field: ops[0].key'],
    [
      'key not a string',
      body([{ op: 'get', key: 3 }]),
      ErrorCodes.INVALID_FIELD,
      'ops[0].key must be a string, got a number',
    ],
    ['empty key', body([{ op: 'get', key: '' }]), ErrorCodes.INVALID_FIELD, 'ops[0].key must not be empty'],
    [
      'key too large',
      body([
        { op: 'get', key: 'ok' },
        { op: 'get', key: 'ключик' },
      ]),
      ErrorCodes.KEY_TOO_LARGE,
      'ops[1].key is 12 bytes; the limit is 10 (max_key_bytes)',
    ],
    [
      'put without value',
      body([{ op: 'put', key: 'k' }]),
      ErrorCodes.MISSING_FIELD,
      'missing required field: ops[0].value',
    ],
    [
      'set with null value',
      body([{ op: 'set', key: 'k', value: null }]),
      ErrorCodes.MISSING_FIELD,
      'missing required field: ops[0].value',
    ],
    [
      'value not a string',
      body([{ op: 'put', key: 'k', value: 1 }]),
      ErrorCodes.INVALID_FIELD,
      'ops[0].value must be a string, got a number',
    ],
    [
      'value too large',
      body([{ op: 'add', key: 'k', value: 'é'.repeat(11) }]),
      ErrorCodes.VALUE_TOO_LARGE,
      'ops[0].value is 22 bytes; the limit is 20 (max_value_bytes)',
    ],
  ];
  for (const [name, bytes, code, message] of cases) {
    const error = thrown(t, () => parseBatchBody(bytes, limits));
    t.equal(error?.code, code, `${name}: code`);
    if (typeof message === 'string') t.equal(error?.message, message, `${name}: message`);
    else t.match(error?.message, message, `${name}: message`);
  }
});

t.test('keyFromPath percent-decodes the key', async (t) => {
  t.equal(keyFromPath('/kv/plain', '/kv/', limits), 'plain');
  t.equal(keyFromPath('/kv/a%2Fb', '/kv/', limits), 'a/b', '%2F is a slash inside the key');
  t.equal(keyFromPath('/kv/a%2fb', '/kv/', limits), 'a/b', 'lower-case hex');
  t.equal(keyFromPath('/kv/a/b', '/kv/', limits), 'a/b', 'a raw slash is kept');
  t.equal(keyFromPath('/kv/a%20b', '/kv/', limits), 'a b');
  t.equal(keyFromPath('/kv/a+b', '/kv/', limits), 'a+b', 'plus is not a space in a path');
  t.equal(keyFromPath('/kv/100%25', '/kv/', limits), '100%');
  t.equal(keyFromPath('/kv/%D0%BA%D0%BB', '/kv/', limits), 'кл');
  t.equal(keyFromPath('/kv/%F0%9F%94%91', '/kv/', limits), '🔑');
  t.equal(keyFromPath('/kv/%3F%23', '/kv/', limits), '?#');
  t.equal(keyFromPath('/x', '/', limits), 'x', 'another prefix');
});

t.test('keyFromPath errors', async (t) => {
  t.throws(() => keyFromPath('/kv/%E0%A4%A', '/kv/', limits), {
    code: ErrorCodes.BAD_REQUEST,
    message: 'the key in the URL is not valid percent-encoding: %E0%A4%A',
  });
  const bad = ['/kv/%', '/kv/%zz', '/kv/abc%2', '/kv/%FF%'];
  for (const url of bad)
    t.throws(() => keyFromPath(url, '/kv/', limits), { code: ErrorCodes.BAD_REQUEST }, url);
  // Well-formed escapes of bytes that are not UTF-8 (a surrogate's %ED%A0%80 among them).
  for (const url of ['/kv/%FF', '/kv/%ED%A0%80', '/kv/sur%ED%B0%80', '/kv/%C3', '/kv/%C0%AF']) {
    t.throws(
      () => keyFromPath(url, '/kv/', limits),
      { code: ErrorCodes.INVALID_TEXT, message: /percent-encodes bytes that are not valid UTF-8/ },
      url,
    );
  }
  // uWS decodes the raw URL as UTF-8 and puts U+FFFD for each invalid byte: refused, not stored as U+FFFD.
  t.throws(() => keyFromPath('/kv/a\uFFFD', '/kv/', limits), {
    code: ErrorCodes.INVALID_TEXT,
    message: /holds bytes that are not valid UTF-8; percent-encode/,
  });
  t.equal(
    keyFromPath('/kv/a%EF%BF%BD', '/kv/', limits),
    'a\uFFFD',
    'U+FFFD itself, percent-encoded, is a key',
  );
  // Only the first 100 characters of a bad key are echoed.
  const long = `/kv/${'a'.repeat(200)}%`;
  const error = thrown(t, () => keyFromPath(long, '/kv/', { ...limits, maxKeyBytes: 1000 }));
  t.equal(error?.message, `the key in the URL is not valid percent-encoding: ${'a'.repeat(100)}`);

  t.throws(() => keyFromPath('/kv/', '/kv/', limits), {
    code: ErrorCodes.INVALID_FIELD,
    message: 'the key must not be empty',
  });
  // The byte limit applies to the decoded key.
  t.equal(keyFromPath(`/kv/${'%D0%BA'.repeat(5)}`, '/kv/', limits), 'к'.repeat(5), '10 bytes decoded');
  t.throws(() => keyFromPath(`/kv/${'%D0%BA'.repeat(6)}`, '/kv/', limits), {
    code: ErrorCodes.KEY_TOO_LARGE,
    message: 'the key is 12 bytes; the limit is 10 (max_key_bytes)',
  });
});
