/**
 * Every error Lally raises on purpose has a stable `code`. Users (and other threads, which cannot use
 * `instanceof` across isolates) match on the code, never on the message.
 */
export const ErrorCodes = {
  BAD_REQUEST: 'LALLY_ERR_BAD_REQUEST',
  INVALID_JSON: 'LALLY_ERR_INVALID_JSON',
  INVALID_TEXT: 'LALLY_ERR_INVALID_TEXT',
  MISSING_FIELD: 'LALLY_ERR_MISSING_FIELD',
  INVALID_FIELD: 'LALLY_ERR_INVALID_FIELD',
  KEY_TOO_LARGE: 'LALLY_ERR_KEY_TOO_LARGE',
  VALUE_TOO_LARGE: 'LALLY_ERR_VALUE_TOO_LARGE',
  BODY_TOO_LARGE: 'LALLY_ERR_BODY_TOO_LARGE',
  BATCH_TOO_LARGE: 'LALLY_ERR_BATCH_TOO_LARGE',
  NOT_FOUND: 'LALLY_ERR_NOT_FOUND',
  ROUTE_NOT_FOUND: 'LALLY_ERR_ROUTE_NOT_FOUND',
  METHOD_NOT_ALLOWED: 'LALLY_ERR_METHOD_NOT_ALLOWED',
  /** No accepted API token (HTTP), or no valid cluster signature (gRPC): see docs/security.md. */
  UNAUTHENTICATED: 'LALLY_ERR_UNAUTHENTICATED',
  BUSY: 'LALLY_ERR_BUSY',
  SHUTTING_DOWN: 'LALLY_ERR_SHUTTING_DOWN',
  /** GET /readyz: the node is starting, joining, catching up or stopping. */
  NOT_READY: 'LALLY_ERR_NOT_READY',
  QUORUM_TIMEOUT: 'LALLY_ERR_QUORUM_TIMEOUT',
  /** A request body did not arrive within body_timeout_ms (the connection is closed). */
  REQUEST_TIMEOUT: 'LALLY_ERR_REQUEST_TIMEOUT',
  /** A hop to another shard got no answer within hop_timeout_ms. */
  TIMEOUT: 'LALLY_ERR_TIMEOUT',
  PEER_TIMEOUT: 'LALLY_ERR_PEER_TIMEOUT',
  PEER_UNAVAILABLE: 'LALLY_ERR_PEER_UNAVAILABLE',
  CONFIG: 'LALLY_ERR_CONFIG',
  NATIVE_UWS_MISSING: 'LALLY_ERR_NATIVE_UWS_MISSING',
  HOOK_LOAD: 'LALLY_ERR_HOOK_LOAD',
  DATA_DIR_LOCKED: 'LALLY_ERR_DATA_DIR_LOCKED',
  AOF_CORRUPT: 'LALLY_ERR_AOF_CORRUPT',
  AOF_IO: 'LALLY_ERR_AOF_IO',
  DISK_FULL: 'LALLY_ERR_DISK_FULL',
  /** A shard's in-memory store reached its bound (4 GiB of entries per shard). */
  STORE_FULL: 'LALLY_ERR_STORE_FULL',
  SHARD_CRASHED: 'LALLY_ERR_SHARD_CRASHED',
  /** A replicated write stamped further ahead of this node's clock than max_clock_skew_ms. */
  CLOCK_SKEW: 'LALLY_ERR_CLOCK_SKEW',
  INTERNAL: 'LALLY_ERR_INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** gRPC status numbers (from @grpc/grpc-js `status`), kept here so this module has no dependency. */
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
} as const;

/** The one table from error code to HTTP status and gRPC status. */
export const ERROR_STATUS: Readonly<Record<ErrorCode, { http: number; grpc: number }>> = {
  LALLY_ERR_BAD_REQUEST: { http: 400, grpc: GRPC.INVALID_ARGUMENT },
  LALLY_ERR_INVALID_JSON: { http: 400, grpc: GRPC.INVALID_ARGUMENT },
  LALLY_ERR_INVALID_TEXT: { http: 400, grpc: GRPC.INVALID_ARGUMENT },
  LALLY_ERR_MISSING_FIELD: { http: 400, grpc: GRPC.INVALID_ARGUMENT },
  LALLY_ERR_INVALID_FIELD: { http: 400, grpc: GRPC.INVALID_ARGUMENT },
  LALLY_ERR_KEY_TOO_LARGE: { http: 413, grpc: GRPC.RESOURCE_EXHAUSTED },
  LALLY_ERR_VALUE_TOO_LARGE: { http: 413, grpc: GRPC.RESOURCE_EXHAUSTED },
  LALLY_ERR_BODY_TOO_LARGE: { http: 413, grpc: GRPC.RESOURCE_EXHAUSTED },
  LALLY_ERR_BATCH_TOO_LARGE: { http: 413, grpc: GRPC.RESOURCE_EXHAUSTED },
  LALLY_ERR_NOT_FOUND: { http: 404, grpc: GRPC.NOT_FOUND },
  LALLY_ERR_ROUTE_NOT_FOUND: { http: 404, grpc: GRPC.UNIMPLEMENTED },
  LALLY_ERR_METHOD_NOT_ALLOWED: { http: 405, grpc: GRPC.UNIMPLEMENTED },
  LALLY_ERR_UNAUTHENTICATED: { http: 401, grpc: GRPC.UNAUTHENTICATED },
  LALLY_ERR_BUSY: { http: 503, grpc: GRPC.UNAVAILABLE },
  LALLY_ERR_SHUTTING_DOWN: { http: 503, grpc: GRPC.UNAVAILABLE },
  LALLY_ERR_NOT_READY: { http: 503, grpc: GRPC.UNAVAILABLE },
  LALLY_ERR_QUORUM_TIMEOUT: { http: 504, grpc: GRPC.DEADLINE_EXCEEDED },
  LALLY_ERR_REQUEST_TIMEOUT: { http: 408, grpc: GRPC.DEADLINE_EXCEEDED },
  LALLY_ERR_TIMEOUT: { http: 504, grpc: GRPC.DEADLINE_EXCEEDED },
  // A call to a peer node: no answer within its deadline, or the peer could not be reached.
  LALLY_ERR_PEER_TIMEOUT: { http: 504, grpc: GRPC.DEADLINE_EXCEEDED },
  LALLY_ERR_PEER_UNAVAILABLE: { http: 503, grpc: GRPC.UNAVAILABLE },
  LALLY_ERR_CONFIG: { http: 500, grpc: GRPC.FAILED_PRECONDITION },
  LALLY_ERR_NATIVE_UWS_MISSING: { http: 500, grpc: GRPC.FAILED_PRECONDITION },
  LALLY_ERR_HOOK_LOAD: { http: 500, grpc: GRPC.FAILED_PRECONDITION },
  LALLY_ERR_DATA_DIR_LOCKED: { http: 500, grpc: GRPC.FAILED_PRECONDITION },
  LALLY_ERR_AOF_CORRUPT: { http: 500, grpc: GRPC.DATA_LOSS },
  LALLY_ERR_AOF_IO: { http: 500, grpc: GRPC.INTERNAL },
  // 507 Insufficient Storage (RFC 4918): the write was not stored; it may succeed once space is freed.
  LALLY_ERR_DISK_FULL: { http: 507, grpc: GRPC.RESOURCE_EXHAUSTED },
  LALLY_ERR_STORE_FULL: { http: 507, grpc: GRPC.RESOURCE_EXHAUSTED },
  LALLY_ERR_SHARD_CRASHED: { http: 500, grpc: GRPC.INTERNAL },
  // Between nodes only: the sender's clock (or one it heard from) runs ahead; it may pass in time.
  LALLY_ERR_CLOCK_SKEW: { http: 500, grpc: GRPC.FAILED_PRECONDITION },
  LALLY_ERR_INTERNAL: { http: 500, grpc: GRPC.INTERNAL },
};

export class LallyError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LallyError';
    this.code = code;
  }

  get httpStatus(): number {
    return ERROR_STATUS[this.code].http;
  }

  get grpcStatus(): number {
    return ERROR_STATUS[this.code].grpc;
  }
}

const KNOWN_CODES = new Set<string>(Object.values(ErrorCodes));

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && KNOWN_CODES.has(value);
}

/** The HTTP status for a code; an unknown code (say, from a newer peer) is an internal error. */
export function httpStatusOf(code: string): number {
  return isErrorCode(code) ? ERROR_STATUS[code].http : 500;
}

/** The error as a LallyError: itself, or LALLY_ERR_INTERNAL wrapping it (a bug: its cause is kept). */
export function asLallyError(error: unknown): LallyError {
  return error instanceof LallyError
    ? error
    : new LallyError(ErrorCodes.INTERNAL, error instanceof Error ? error.message : String(error), {
        cause: error,
      });
}
