/**
 * Errors across the wire. A handler's LallyError travels as its gRPC status (the table in
 * src/errors.ts) with its stable code in the `lally-error-code` trailer, so the caller rebuilds the
 * same code; anything else is INTERNAL. On the calling side, a status without a code maps to the
 * nearest Lally code: a missed deadline is LALLY_ERR_PEER_TIMEOUT, a peer that cannot be reached (or a
 * call cut off) LALLY_ERR_PEER_UNAVAILABLE.
 */
import { Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { type ErrorCode, ErrorCodes, isErrorCode, LallyError } from '../errors.js';

export const ERROR_CODE_TRAILER = 'lally-error-code';

export interface StatusError {
  code: number;
  details: string;
  metadata: Metadata;
}

/** The status a handler answers with for a thrown error. */
export function toStatusError(error: unknown): StatusError {
  const metadata = new Metadata();
  if (error instanceof LallyError) {
    metadata.set(ERROR_CODE_TRAILER, error.code);
    return { code: error.grpcStatus, details: error.message, metadata };
  }
  metadata.set(ERROR_CODE_TRAILER, ErrorCodes.INTERNAL);
  const message = error instanceof Error ? error.message : String(error);
  return { code: status.INTERNAL, details: `internal error: ${message}`, metadata };
}

const BY_STATUS: Partial<Record<number, ErrorCode>> = {
  [status.DEADLINE_EXCEEDED]: ErrorCodes.PEER_TIMEOUT,
  [status.UNAVAILABLE]: ErrorCodes.PEER_UNAVAILABLE,
  [status.CANCELLED]: ErrorCodes.PEER_UNAVAILABLE,
  [status.INVALID_ARGUMENT]: ErrorCodes.BAD_REQUEST,
  [status.UNIMPLEMENTED]: ErrorCodes.ROUTE_NOT_FOUND,
  [status.RESOURCE_EXHAUSTED]: ErrorCodes.BUSY,
  [status.FAILED_PRECONDITION]: ErrorCodes.CONFIG,
  [status.DATA_LOSS]: ErrorCodes.AOF_CORRUPT,
  [status.UNAUTHENTICATED]: ErrorCodes.UNAUTHENTICATED,
};

function isServiceError(error: unknown): error is ServiceError {
  return error instanceof Error && typeof (error as Partial<ServiceError>).code === 'number';
}

/** A failed call as a LallyError naming the peer; its `cause` is the grpc-js error. */
export function fromCallError(error: unknown, peer: string, method: string): LallyError {
  if (error instanceof LallyError) return error;
  if (!isServiceError(error)) {
    return new LallyError(ErrorCodes.INTERNAL, `${method} to ${peer} failed: ${String(error)}`, {
      cause: error,
    });
  }
  const sent = error.metadata?.get(ERROR_CODE_TRAILER)[0];
  const code: ErrorCode = isErrorCode(sent) ? sent : (BY_STATUS[error.code] ?? ErrorCodes.INTERNAL);
  return new LallyError(code, `${method} to ${peer} failed: ${error.details || error.message}`, {
    cause: error,
  });
}
