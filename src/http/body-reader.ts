import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { ErrorCodes, LallyError } from '../errors.js';

/**
 * Collects a request body into one buffer, refusing it once it passes `maxBytes` (from Content-Length
 * up front, or while it streams). uWS neuters each chunk after its callback, so a body in several
 * chunks is copied into one buffer.
 * The caller must have registered res.onAborted before the body arrives (uWS requires it).
 * `onBody` must consume the bytes before it returns (decode, parse or copy them): they may be uWS's own
 * chunk, which is invalid afterwards. Every caller parses the body synchronously.
 */
export function readBody(
  res: HttpResponse,
  req: HttpRequest,
  maxBytes: number,
  onBody: (body: Uint8Array) => void,
  onError: (error: LallyError) => void,
): void {
  const declared = req.getHeader('content-length');
  const length = declared === '' ? -1 : Number(declared);
  if (length > maxBytes) {
    onError(tooLarge(length, maxBytes));
    return;
  }
  // Allocated only when the body comes in more than one chunk (sized by Content-Length when known):
  // a body in a single chunk, the common case, is handed over without a copy.
  let buffer: Uint8Array | undefined;
  let received = 0;
  let failed = false;
  res.onData((chunk, isLast) => {
    if (failed) return;
    const bytes = new Uint8Array(chunk);
    if (received + bytes.byteLength > maxBytes) {
      failed = true;
      onError(tooLarge(received + bytes.byteLength, maxBytes));
      return;
    }
    if (isLast && received === 0) {
      // The whole body came in one chunk: hand it over without a copy. uWS neuters it when this
      // callback returns, which is why onBody must be done with it before returning (see above).
      onBody(bytes);
      return;
    }
    if (buffer === undefined || received + bytes.byteLength > buffer.byteLength) {
      const grown = new Uint8Array(
        Math.max(received + bytes.byteLength, (buffer?.byteLength ?? 0) * 2, length, 1024),
      );
      if (buffer !== undefined) grown.set(buffer.subarray(0, received));
      buffer = grown;
    }
    buffer.set(bytes, received);
    received += bytes.byteLength;
    if (isLast) onBody(buffer.subarray(0, received));
  });
}

function tooLarge(bytes: number, maxBytes: number): LallyError {
  return new LallyError(
    ErrorCodes.BODY_TOO_LARGE,
    `the request body is ${bytes} bytes or more; the limit is ${maxBytes} (max_body_bytes)`,
  );
}
