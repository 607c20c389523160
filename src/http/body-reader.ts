import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { ErrorCodes, LallyError } from '../errors.js';
import type { BodyBuffers } from './body-buffers.js';
import type { BodyDeadlines } from './body-deadlines.js';
import { errorJson } from './responses.js';
import { wrapRoutes } from './route-wrap.js';

/**
 * Two Content-Length headers with different values: RFC 9112 (6.3) makes that an unrecoverable framing
 * error (where the body ends is ambiguous: the way requests get smuggled past a proxy), answered 400
 * with the connection closed. uWS itself takes the first one. Identical repeats are accepted, as the RFC
 * allows. getHeader gives the first value: only requests that carry the header pay for the scan.
 */
export function conflictingContentLength(req: HttpRequest): LallyError | undefined {
  const first = req.getHeader('content-length');
  if (first === '') return undefined;
  let other: string | undefined;
  req.forEach((name, value) => {
    if (name === 'content-length' && value !== first) other ??= value;
  });
  if (other === undefined) return undefined;
  return new LallyError(
    ErrorCodes.BAD_REQUEST,
    `the request has Content-Length headers that disagree (${first.slice(0, 20)} and ${other.slice(0, 20)}): ` +
      'where its body ends is ambiguous (RFC 9112, 6.3)',
  );
}

/**
 * Makes every route of `app` refuse a request whose framing is ambiguous before its handler runs
 * (uWS has no middleware: its route methods are wrapped instead). The answer closes the connection:
 * the bytes after such a request cannot be trusted to start the next one.
 */
export function withFramingChecks(app: TemplatedApp): TemplatedApp {
  return wrapRoutes(app, (_pattern, handler) => (res, req) => {
    const error = conflictingContentLength(req);
    if (error === undefined) return handler(res, req);
    res
      .writeStatus('400 Bad Request')
      .writeHeader('content-type', 'application/json')
      .end(errorJson(error.code, error.message), true);
    return undefined;
  });
}

/**
 * Collects a request body into one buffer, refusing it once it passes `maxBytes` (from Content-Length
 * up front, or while it streams). uWS neuters each chunk after its callback, so a body in several
 * chunks is copied into one buffer.
 * The caller must have registered res.onAborted before the body arrives (uWS requires it).
 * `onBody` must consume the bytes before it returns (decode, parse or copy them): they may be uWS's own
 * chunk, which is invalid afterwards, or a buffer of `buffers` that the next body reuses. Every caller
 * parses the body synchronously.
 */
export function readBody(
  res: HttpResponse,
  req: HttpRequest,
  maxBytes: number,
  onBody: (body: Uint8Array) => void,
  onError: (error: LallyError) => void,
  deadlines?: BodyDeadlines,
  buffers?: BodyBuffers,
): void {
  const declared = req.getHeader('content-length');
  const length = declared === '' ? -1 : Number(declared);
  if (length > maxBytes) {
    onError(tooLarge(length, maxBytes));
    return;
  }
  if (length === 0) {
    // No body to wait for. uWS 20.30 never calls onData for a `Content-Length: 0` request whose head
    // arrived in more than one TCP read, so waiting for it left the request unanswered for ever.
    onBody(new Uint8Array(0));
    return;
  }
  // Taken only when the body comes in more than one chunk (sized by Content-Length when known): a
  // body in a single chunk, the common case, is handed over without a copy.
  let buffer: Uint8Array | undefined;
  const release = () => {
    if (buffer !== undefined) buffers?.give(buffer);
    buffer = undefined;
  };
  let received = 0;
  let failed = false;
  const tracked = deadlines?.track(() => {
    if (failed) return;
    failed = true;
    release();
    onError(
      new LallyError(
        ErrorCodes.REQUEST_TIMEOUT,
        `the request body did not arrive within ${deadlines.timeoutMs} ms (body_timeout_ms); ${received} bytes came`,
      ),
    );
  });
  res.onData((chunk, isLast) => {
    if (failed) return;
    const bytes = new Uint8Array(chunk);
    if (received + bytes.byteLength > maxBytes) {
      failed = true;
      deadlines?.done(tracked);
      release();
      onError(tooLarge(received + bytes.byteLength, maxBytes));
      return;
    }
    if (isLast) deadlines?.done(tracked);
    if (isLast && received === 0) {
      // The whole body came in one chunk: hand it over without a copy. uWS neuters it when this
      // callback returns, which is why onBody must be done with it before returning (see above).
      onBody(bytes);
      return;
    }
    if (buffer === undefined || received + bytes.byteLength > buffer.byteLength) {
      const wanted = Math.max(received + bytes.byteLength, (buffer?.byteLength ?? 0) * 2, length, 1024);
      const grown = buffers === undefined ? new Uint8Array(wanted) : buffers.take(wanted);
      if (buffer !== undefined) grown.set(buffer.subarray(0, received));
      release();
      buffer = grown;
    }
    buffer.set(bytes, received);
    received += bytes.byteLength;
    if (!isLast) return;
    try {
      onBody(buffer.subarray(0, received));
    } finally {
      release();
    }
  });
}

function tooLarge(bytes: number, maxBytes: number): LallyError {
  return new LallyError(
    ErrorCodes.BODY_TOO_LARGE,
    `the request body is ${bytes} bytes or more; the limit is ${maxBytes} (max_body_bytes)`,
  );
}
