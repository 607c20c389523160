/**
 * Bearer tokens on the HTTP API (auth_token). uWS has no middleware, so, as the framing checks do
 * (body-reader.ts), the app's route methods are wrapped: every route registered afterwards checks
 * `Authorization: Bearer <token>` before its handler runs, except the routes named open (by pattern).
 *
 * The presented token and every accepted one are compared as SHA-256 digests with timingSafeEqual:
 * the digests have a fixed length, so neither a token's length nor its first differing byte shows in
 * the time of an answer, and every accepted token is compared (which one matched does not show either).
 */

import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { hash, timingSafeEqual } from 'node:crypto';
import { ErrorCodes } from '../errors.js';
import { errorJson, statusLine } from './responses.js';

/** Routes that answer without a token: probes that say nothing about the data. */
export const OPEN_ROUTES: readonly string[] = ['/livez', '/readyz'];
/** Open too when metrics_open is set. */
export const METRICS_ROUTE = '/metrics';

const SCHEME = 'bearer ';

export class BearerTokens {
  readonly #digests: readonly Buffer[];

  constructor(tokens: readonly string[]) {
    this.#digests = tokens.map((token) => digest(token));
  }

  /** Whether an Authorization header value carries one of the tokens. */
  accepts(header: string): boolean {
    // The scheme is case-insensitive (RFC 9110, 11.1); one space, then the token (RFC 6750, 2.1).
    if (header.length <= SCHEME.length || header.slice(0, SCHEME.length).toLowerCase() !== SCHEME) {
      return false;
    }
    const presented = digest(header.slice(SCHEME.length).trim());
    let accepted = false;
    for (const known of this.#digests) accepted = timingSafeEqual(known, presented) || accepted;
    return accepted;
  }
}

function digest(token: string): Buffer {
  return hash('sha256', token, 'buffer') as unknown as Buffer;
}

type Handler = (res: HttpResponse, req: HttpRequest) => void | Promise<void>;
const ROUTE_METHODS = [
  'get',
  'post',
  'put',
  'del',
  'patch',
  'options',
  'head',
  'any',
  'connect',
  'trace',
] as const;
type RouteMethod = (typeof ROUTE_METHODS)[number];

const MISSING = errorJson(
  ErrorCodes.UNAUTHENTICATED,
  'this node needs a token: send Authorization: Bearer <token> (auth_token)',
);
const WRONG = errorJson(ErrorCodes.UNAUTHENTICATED, 'the bearer token is not one this node accepts');

/** Counts the requests refused (GET /stats). */
export interface AuthCounters {
  refused: number;
}

/**
 * Makes every route of `app` registered from now on refuse requests without an accepted token, with
 * 401 and `WWW-Authenticate: Bearer`; routes whose pattern is in `open` are left as they are.
 */
export function withBearerAuth(
  app: TemplatedApp,
  tokens: BearerTokens,
  open: readonly string[],
  counters: AuthCounters = { refused: 0 },
): TemplatedApp {
  const routes = app as unknown as Record<RouteMethod, (pattern: string, handler: Handler) => TemplatedApp>;
  const openSet = new Set(open);
  for (const method of ROUTE_METHODS) {
    const register = routes[method].bind(app);
    routes[method] = (pattern, handler) => {
      if (openSet.has(pattern)) return register(pattern, handler);
      return register(pattern, (res, req) => {
        const header = req.getHeader('authorization');
        if (header !== '' && tokens.accepts(header)) return handler(res, req);
        counters.refused++;
        res
          .writeStatus(statusLine(401))
          .writeHeader('content-type', 'application/json')
          .writeHeader(
            'www-authenticate',
            header === '' ? 'Bearer realm="lally"' : 'Bearer realm="lally", error="invalid_token"',
          )
          .end(header === '' ? MISSING : WRONG);
        return undefined;
      });
    };
  }
  return app;
}
