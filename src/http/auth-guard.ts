/**
 * Bearer tokens on the HTTP API (auth_token). uWS has no middleware, so, as the framing checks do
 * (body-reader.ts), the app's route methods are wrapped: every route registered afterwards checks
 * `Authorization: Bearer <token>` before its handler runs, except the routes named open (by pattern).
 *
 * The presented token and every accepted one are compared with timingSafeEqual over buffers of one
 * fixed length (MAX_TOKEN_LENGTH, zero-padded), and their lengths apart: neither an accepted token's
 * length nor its first differing byte shows in the time of an answer, and every accepted token is
 * compared (which one matched does not show either). Padding rather than hashing: a SHA-256 digest per
 * request cost 3 to 4 us on the bench machine, the padded compare 0.6 us (bench/auth-overhead.ts).
 */

import type { TemplatedApp } from 'uWebSockets.js';
import { timingSafeEqual } from 'node:crypto';
import { ErrorCodes } from '../errors.js';
import { errorJson, statusLine } from './responses.js';
import { wrapRoutes } from './route-wrap.js';

/** Routes that answer without a token: probes that say nothing about the data. */
export const OPEN_ROUTES: readonly string[] = ['/livez', '/readyz'];
/** Open too when metrics_open is set. */
export const METRICS_ROUTE = '/metrics';

const SCHEME = 'bearer ';
/** The longest token accepted (the config refuses longer ones). */
export const MAX_TOKEN_LENGTH = 256;

export class BearerTokens {
  readonly #tokens: readonly { readonly padded: Buffer; readonly length: number }[];
  /** The presented token, padded: one buffer per thread, rewritten by each check. */
  readonly #scratch = Buffer.alloc(MAX_TOKEN_LENGTH);

  constructor(tokens: readonly string[]) {
    this.#tokens = tokens.map((token) => {
      if (token.length > MAX_TOKEN_LENGTH)
        throw new RangeError(`a token is over ${MAX_TOKEN_LENGTH} characters`);
      const padded = Buffer.alloc(MAX_TOKEN_LENGTH);
      padded.write(token, 'utf8'); // ASCII (the config checks it): one byte a character
      return { padded, length: token.length };
    });
  }

  /** Whether an Authorization header value carries one of the tokens. */
  accepts(header: string): boolean {
    // The scheme is case-insensitive (RFC 9110, 11.1); one space, then the token (RFC 6750, 2.1).
    if (header.length <= SCHEME.length || header.slice(0, SCHEME.length).toLowerCase() !== SCHEME) {
      return false;
    }
    const presented = header.slice(SCHEME.length).trim();
    if (presented.length > MAX_TOKEN_LENGTH) return false; // longer than any token: says nothing of them
    const scratch = this.#scratch;
    scratch.fill(0);
    // UTF-8 keeps distinct strings distinct (latin1 would fold U+0121 onto '!'). Tokens are ASCII, so
    // a presented one matches only if its characters and its bytes are both the token's length.
    const written = scratch.write(presented, 'utf8');
    let accepted = false;
    for (const known of this.#tokens) {
      // Evaluated for every token: no early exit on the first match.
      const same = timingSafeEqual(known.padded, scratch);
      accepted = (same && written === known.length && presented.length === known.length) || accepted;
    }
    return accepted;
  }
}

const MISSING = errorJson(
  ErrorCodes.UNAUTHENTICATED,
  'this node needs a token: send Authorization: Bearer <token> (auth_token)',
);
const WRONG = errorJson(ErrorCodes.UNAUTHENTICATED, 'the bearer token is not one this node accepts');

/** The API's request counters (GET /stats): a refused request is a request and an error. */
export interface AuthCounters {
  requests: number;
  errors: number;
}

/**
 * Makes every route of `app` registered from now on refuse requests without an accepted token, with
 * 401 and `WWW-Authenticate: Bearer`; routes whose pattern is in `open` are left as they are.
 */
export function withBearerAuth(
  app: TemplatedApp,
  tokens: BearerTokens,
  open: readonly string[],
  counters: AuthCounters = { requests: 0, errors: 0 },
): TemplatedApp {
  const openSet = new Set(open);
  return wrapRoutes(app, (pattern, handler) => {
    if (openSet.has(pattern)) return handler;
    return (res, req) => {
      const header = req.getHeader('authorization');
      if (header !== '' && tokens.accepts(header)) return handler(res, req);
      counters.requests++;
      counters.errors++;
      res
        .writeStatus(statusLine(401))
        .writeHeader('content-type', 'application/json')
        .writeHeader(
          'www-authenticate',
          header === '' ? 'Bearer realm="lally"' : 'Bearer realm="lally", error="invalid_token"',
        )
        .end(header === '' ? MISSING : WRONG);
      return undefined;
    };
  });
}
