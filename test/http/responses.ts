import t from 'tap';
import { ErrorCodes, LallyError } from '../../src/errors.js';
import {
  errorAnswer,
  errorJson,
  type KvAnswer,
  kvAnswerJson,
  Messages,
  statusLine,
} from '../../src/http/responses.js';

function answer(overrides: Partial<KvAnswer>): KvAnswer {
  return {
    status: 'success',
    key: 'k',
    value: 'v',
    timestamp: '2024-12-30T10:15:00.123Z',
    required: 2,
    achieved: 3,
    message: 'ok',
    ...overrides,
  };
}

/** The upstream shape, field by field, in upstream's order. */
function upstream(a: KvAnswer): unknown {
  return {
    status: a.status,
    key: a.key,
    value: a.value ?? null,
    timestamp: a.timestamp ?? null,
    quorum: { required: a.required, achieved: a.achieved },
    message: a.message,
  };
}

t.test('kvAnswerJson parses back to the upstream shape', async (t) => {
  const a = answer({});
  const text = kvAnswerJson(a);
  t.equal(
    text,
    '{"status":"success","key":"k","value":"v","timestamp":"2024-12-30T10:15:00.123Z",' +
      '"quorum":{"required":2,"achieved":3},"message":"ok"}',
    'exact bytes',
  );
  const parsed = JSON.parse(text);
  t.strictSame(parsed, upstream(a));
  t.same(Object.keys(parsed), ['status', 'key', 'value', 'timestamp', 'quorum', 'message'], 'field order');
  t.same(Object.keys(parsed.quorum), ['required', 'achieved']);
});

t.test('null value and timestamp', async (t) => {
  const a = answer({
    status: 'error',
    value: undefined,
    timestamp: undefined,
    required: 2,
    achieved: 0,
    message: Messages.missing('k'),
  });
  const parsed = JSON.parse(kvAnswerJson(a));
  t.strictSame(parsed, {
    status: 'error',
    key: 'k',
    value: null,
    timestamp: null,
    quorum: { required: 2, achieved: 0 },
    message: "Key 'k' does not exist.",
  });
  t.match(kvAnswerJson(a), /"value":null,"timestamp":null,/);
  // An empty string value is a value, not null.
  t.equal(JSON.parse(kvAnswerJson(answer({ value: '' }))).value, '');
});

t.test('every quorum state', async (t) => {
  for (const status of ['success', 'partial', 'error'] as const) {
    t.equal(JSON.parse(kvAnswerJson(answer({ status }))).status, status);
  }
});

t.test('keys, values and messages that need escaping', async (t) => {
  const awkward = [
    'with "double" quotes',
    "single ' quote",
    'back\\slash',
    'new\nline\r\nand\ttab',
    'nul \u0000 and \u001f controls',
    'unicode: ключ 日本 🔑 é',
    'line separators \u2028 \u2029',
    '</script>',
    '{"json":"inside"}',
    'lone \uD800 surrogate',
  ];
  for (const [index, text] of awkward.entries()) {
    const a = answer({ key: text, value: text, message: Messages.fetched(text) });
    const json = kvAnswerJson(a);
    const parsed = JSON.parse(json);
    // Names by index: a raw U+2028 in a test name would break the TAP stream.
    t.strictSame(parsed, upstream(a), `awkward text #${index}`);
    t.notMatch(json, /[\n\r]/, `no raw line break in the body #${index}`);
  }
});

t.test('Messages match upstream wording', async (t) => {
  t.equal(Messages.added(), 'Operation completed successfully.');
  t.equal(Messages.fetched('a'), "Key 'a' was fetched successfully.");
  t.equal(Messages.missing('a'), "Key 'a' does not exist.");
  t.equal(Messages.removed('a'), "Key 'a' was successfully removed.");
  t.equal(Messages.removeMissing('a'), "Key 'a' does not exist in the store.");
});

t.test('errorAnswer maps LallyError codes to HTTP statuses', async (t) => {
  const expected: [string, number][] = [
    [ErrorCodes.BAD_REQUEST, 400],
    [ErrorCodes.INVALID_JSON, 400],
    [ErrorCodes.MISSING_FIELD, 400],
    [ErrorCodes.INVALID_FIELD, 400],
    [ErrorCodes.KEY_TOO_LARGE, 413],
    [ErrorCodes.VALUE_TOO_LARGE, 413],
    [ErrorCodes.BODY_TOO_LARGE, 413],
    [ErrorCodes.BATCH_TOO_LARGE, 413],
    [ErrorCodes.NOT_FOUND, 404],
    [ErrorCodes.ROUTE_NOT_FOUND, 404],
    [ErrorCodes.METHOD_NOT_ALLOWED, 405],
    [ErrorCodes.BUSY, 503],
    [ErrorCodes.SHUTTING_DOWN, 503],
    [ErrorCodes.QUORUM_TIMEOUT, 504],
    [ErrorCodes.CONFIG, 500],
    [ErrorCodes.AOF_IO, 500],
    [ErrorCodes.SHARD_CRASHED, 500],
    [ErrorCodes.INTERNAL, 500],
  ];
  for (const [code, status] of expected) {
    const message = `failure of ${code} with "quotes"\nand a newline`;
    const result = errorAnswer(new LallyError(code as (typeof ErrorCodes)[keyof typeof ErrorCodes], message));
    t.equal(result.httpStatus, status, `${code} -> ${status}`);
    t.strictSame(JSON.parse(result.body), { status: 'error', code, message });
  }
});

t.test('errorAnswer hides unknown errors behind a generic 500', async (t) => {
  const secrets: unknown[] = [
    new Error('ENOENT: /secret/path/to/data'),
    new TypeError('cannot read properties of undefined'),
    'a thrown string',
    undefined,
    null,
    { code: 'LALLY_ERR_BAD_REQUEST', message: 'looks like a LallyError but is not one' },
  ];
  for (const error of secrets) {
    const result = errorAnswer(error);
    t.equal(result.httpStatus, 500);
    t.equal(
      result.body,
      '{"status":"error","code":"LALLY_ERR_INTERNAL","message":"internal error; see the server log"}',
    );
  }
});

t.test('errorJson', async (t) => {
  t.equal(errorJson('LALLY_ERR_BUSY', 'busy'), '{"status":"error","code":"LALLY_ERR_BUSY","message":"busy"}');
  t.strictSame(JSON.parse(errorJson('X"Y', 'a\nb "c"')), {
    status: 'error',
    code: 'X"Y',
    message: 'a\nb "c"',
  });
});

t.test('statusLine', async (t) => {
  t.equal(statusLine(200), '200 OK');
  t.equal(statusLine(400), '400 Bad Request');
  t.equal(statusLine(404), '404 Not Found');
  t.equal(statusLine(405), '405 Method Not Allowed');
  t.equal(statusLine(413), '413 Payload Too Large');
  t.equal(statusLine(500), '500 Internal Server Error');
  t.equal(statusLine(503), '503 Service Unavailable');
  t.equal(statusLine(504), '504 Gateway Timeout');
  t.equal(statusLine(418), '418 Status', 'unknown statuses still start with the number');
  // Every status the error table can produce has a proper reason phrase.
  for (const code of Object.values(ErrorCodes)) {
    const status = new LallyError(code, 'x').httpStatus;
    t.notMatch(statusLine(status), / Status$/, `${code} -> ${statusLine(status)}`);
    t.ok(statusLine(status).startsWith(`${status} `));
  }
});
