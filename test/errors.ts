import t from 'tap';
import {
  ERROR_STATUS,
  type ErrorCode,
  ErrorCodes,
  httpStatusOf,
  isErrorCode,
  LallyError,
} from '../src/errors.js';

// gRPC status numbers from the gRPC spec (also @grpc/grpc-js `status`).
const GRPC = {
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
};

/** The table pinned: clients match on these, so a change must be deliberate. */
const EXPECTED: Record<keyof typeof ErrorCodes, [code: string, http: number, grpc: number]> = {
  BAD_REQUEST: ['LALLY_ERR_BAD_REQUEST', 400, GRPC.INVALID_ARGUMENT],
  INVALID_JSON: ['LALLY_ERR_INVALID_JSON', 400, GRPC.INVALID_ARGUMENT],
  INVALID_TEXT: ['LALLY_ERR_INVALID_TEXT', 400, GRPC.INVALID_ARGUMENT],
  MISSING_FIELD: ['LALLY_ERR_MISSING_FIELD', 400, GRPC.INVALID_ARGUMENT],
  INVALID_FIELD: ['LALLY_ERR_INVALID_FIELD', 400, GRPC.INVALID_ARGUMENT],
  KEY_TOO_LARGE: ['LALLY_ERR_KEY_TOO_LARGE', 413, GRPC.RESOURCE_EXHAUSTED],
  VALUE_TOO_LARGE: ['LALLY_ERR_VALUE_TOO_LARGE', 413, GRPC.RESOURCE_EXHAUSTED],
  BODY_TOO_LARGE: ['LALLY_ERR_BODY_TOO_LARGE', 413, GRPC.RESOURCE_EXHAUSTED],
  BATCH_TOO_LARGE: ['LALLY_ERR_BATCH_TOO_LARGE', 413, GRPC.RESOURCE_EXHAUSTED],
  NOT_FOUND: ['LALLY_ERR_NOT_FOUND', 404, GRPC.NOT_FOUND],
  ROUTE_NOT_FOUND: ['LALLY_ERR_ROUTE_NOT_FOUND', 404, GRPC.UNIMPLEMENTED],
  METHOD_NOT_ALLOWED: ['LALLY_ERR_METHOD_NOT_ALLOWED', 405, GRPC.UNIMPLEMENTED],
  UNAUTHENTICATED: ['LALLY_ERR_UNAUTHENTICATED', 401, GRPC.UNAUTHENTICATED],
  BUSY: ['LALLY_ERR_BUSY', 503, GRPC.UNAVAILABLE],
  SHUTTING_DOWN: ['LALLY_ERR_SHUTTING_DOWN', 503, GRPC.UNAVAILABLE],
  NOT_READY: ['LALLY_ERR_NOT_READY', 503, GRPC.UNAVAILABLE],
  QUORUM_TIMEOUT: ['LALLY_ERR_QUORUM_TIMEOUT', 504, GRPC.DEADLINE_EXCEEDED],
  REQUEST_TIMEOUT: ['LALLY_ERR_REQUEST_TIMEOUT', 408, GRPC.DEADLINE_EXCEEDED],
  TIMEOUT: ['LALLY_ERR_TIMEOUT', 504, GRPC.DEADLINE_EXCEEDED],
  PEER_TIMEOUT: ['LALLY_ERR_PEER_TIMEOUT', 504, GRPC.DEADLINE_EXCEEDED],
  PEER_UNAVAILABLE: ['LALLY_ERR_PEER_UNAVAILABLE', 503, GRPC.UNAVAILABLE],
  CONFIG: ['LALLY_ERR_CONFIG', 500, GRPC.FAILED_PRECONDITION],
  NATIVE_UWS_MISSING: ['LALLY_ERR_NATIVE_UWS_MISSING', 500, GRPC.FAILED_PRECONDITION],
  HOOK_LOAD: ['LALLY_ERR_HOOK_LOAD', 500, GRPC.FAILED_PRECONDITION],
  DATA_DIR_LOCKED: ['LALLY_ERR_DATA_DIR_LOCKED', 500, GRPC.FAILED_PRECONDITION],
  AOF_CORRUPT: ['LALLY_ERR_AOF_CORRUPT', 500, GRPC.DATA_LOSS],
  AOF_IO: ['LALLY_ERR_AOF_IO', 500, GRPC.INTERNAL],
  DISK_FULL: ['LALLY_ERR_DISK_FULL', 507, GRPC.RESOURCE_EXHAUSTED],
  STORE_FULL: ['LALLY_ERR_STORE_FULL', 507, GRPC.RESOURCE_EXHAUSTED],
  SHARD_CRASHED: ['LALLY_ERR_SHARD_CRASHED', 500, GRPC.INTERNAL],
  CLOCK_SKEW: ['LALLY_ERR_CLOCK_SKEW', 500, GRPC.FAILED_PRECONDITION],
  INTERNAL: ['LALLY_ERR_INTERNAL', 500, GRPC.INTERNAL],
};

t.test('every code has a status entry with HTTP and gRPC numbers', async (t) => {
  const codes = Object.values(ErrorCodes);
  t.equal(new Set(codes).size, codes.length, 'codes are unique');
  t.same(Object.keys(ERROR_STATUS).sort(), [...codes].sort(), 'the table has exactly the codes');
  for (const code of codes) {
    t.match(code, /^LALLY_ERR_[A-Z_]+$/, `${code} follows the naming`);
    const entry = ERROR_STATUS[code];
    t.ok(entry, `${code} has an entry`);
    t.ok(
      Number.isInteger(entry.http) && entry.http >= 400 && entry.http <= 599,
      `${code} http ${entry.http}`,
    );
    t.ok(Number.isInteger(entry.grpc) && entry.grpc >= 1 && entry.grpc <= 16, `${code} grpc ${entry.grpc}`);
  }
});

t.test('the code table is pinned', async (t) => {
  t.same(Object.keys(ErrorCodes).sort(), Object.keys(EXPECTED).sort(), 'same names');
  for (const [name, [code, http, grpc]] of Object.entries(EXPECTED)) {
    t.equal(ErrorCodes[name as keyof typeof ErrorCodes], code, name);
    t.same(ERROR_STATUS[code as ErrorCode], { http, grpc }, `${code} statuses`);
  }
});

t.test('LallyError carries code, cause and statuses', async (t) => {
  const cause = new Error('disk full');
  const error = new LallyError(ErrorCodes.AOF_IO, 'cannot append', { cause });
  t.ok(error instanceof Error);
  t.ok(error instanceof LallyError);
  t.equal(error.name, 'LallyError');
  t.equal(error.code, 'LALLY_ERR_AOF_IO');
  t.equal(error.message, 'cannot append');
  t.equal(error.cause, cause);
  t.equal(error.httpStatus, 500);
  t.equal(error.grpcStatus, 13);
  t.match(String(error), /^LallyError: cannot append$/);
  t.ok(error.stack?.includes('cannot append'));

  const plain = new LallyError(ErrorCodes.KEY_TOO_LARGE, 'too big');
  t.equal(plain.cause, undefined);
  t.notOk('cause' in plain, 'no cause property when none was given');
  t.equal(plain.httpStatus, 413);
  t.equal(plain.grpcStatus, 8);

  t.equal(new LallyError(ErrorCodes.QUORUM_TIMEOUT, 'slow').httpStatus, 504);
  t.equal(new LallyError(ErrorCodes.QUORUM_TIMEOUT, 'slow').grpcStatus, 4);
  t.equal(new LallyError(ErrorCodes.BUSY, 'busy').grpcStatus, 14);
  // A non-Error cause is kept as is.
  t.equal(new LallyError(ErrorCodes.INTERNAL, 'x', { cause: 42 }).cause, 42);

  for (const code of Object.values(ErrorCodes)) {
    const e = new LallyError(code, 'm');
    t.equal(e.httpStatus, ERROR_STATUS[code].http);
    t.equal(e.grpcStatus, ERROR_STATUS[code].grpc);
  }
});

t.test('isErrorCode', async (t) => {
  for (const code of Object.values(ErrorCodes)) t.equal(isErrorCode(code), true, code);
  const notCodes: unknown[] = [
    'LALLY_ERR_NOPE',
    'lally_err_internal',
    'BAD_REQUEST',
    '',
    ' LALLY_ERR_INTERNAL',
    undefined,
    null,
    42,
    {},
    ['LALLY_ERR_INTERNAL'],
    'toString',
    '__proto__',
  ];
  for (const value of notCodes) t.equal(isErrorCode(value), false, JSON.stringify(value) ?? String(value));
});

t.test('httpStatusOf', async (t) => {
  t.equal(httpStatusOf('LALLY_ERR_BAD_REQUEST'), 400);
  t.equal(httpStatusOf('LALLY_ERR_NOT_FOUND'), 404);
  t.equal(httpStatusOf('LALLY_ERR_METHOD_NOT_ALLOWED'), 405);
  t.equal(httpStatusOf('LALLY_ERR_BATCH_TOO_LARGE'), 413);
  t.equal(httpStatusOf('LALLY_ERR_SHUTTING_DOWN'), 503);
  t.equal(httpStatusOf('LALLY_ERR_QUORUM_TIMEOUT'), 504);
  t.equal(httpStatusOf('LALLY_ERR_FROM_A_NEWER_PEER'), 500, 'unknown code is internal');
  t.equal(httpStatusOf(''), 500);
  t.equal(httpStatusOf('constructor'), 500);
  for (const code of Object.values(ErrorCodes)) t.equal(httpStatusOf(code), ERROR_STATUS[code].http);
});
