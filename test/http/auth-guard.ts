/**
 * withBearerAuth on a real uWS app on a loopback port: every route but the open ones needs an accepted
 * token, refused with 401, a stable code and WWW-Authenticate; several tokens are accepted at once.
 */
import t from 'tap';
import {
  BearerTokens,
  MAX_TOKEN_LENGTH,
  METRICS_ROUTE,
  OPEN_ROUTES,
  withBearerAuth,
} from '../../src/http/auth-guard.js';
import { httpSecurityOf } from '../../src/http/http-security.js';
import { loadNativeUws } from '../../src/http/uws-native.js';
import { request } from '../fixtures/http-client.js';

const uws = loadNativeUws();
const TOKENS = ['first-token-0123456789', 'second-token-abcdefghij'];

t.test('BearerTokens accepts exactly the tokens, with the scheme in any case', async (t) => {
  const tokens = new BearerTokens(TOKENS);
  t.ok(tokens.accepts(`Bearer ${TOKENS[0]}`));
  t.ok(tokens.accepts(`bearer ${TOKENS[1]}`));
  t.ok(tokens.accepts(`BEARER ${TOKENS[1]} `), 'trailing space trimmed');
  t.notOk(tokens.accepts(TOKENS[0]!), 'no scheme');
  t.notOk(tokens.accepts(`Basic ${TOKENS[0]}`));
  t.notOk(tokens.accepts(`Bearer ${TOKENS[0]!.slice(0, -1)}`), 'a prefix');
  t.notOk(tokens.accepts(`Bearer ${TOKENS[0]}x`), 'longer');
  t.notOk(tokens.accepts('Bearer '));
  t.notOk(new BearerTokens([]).accepts(`Bearer ${TOKENS[0]}`), 'no tokens: nothing accepted');
  t.notOk(tokens.accepts(`Bearer ${TOKENS[0]}${'\0'.repeat(4)}`), 'zero padding is not the token');
  t.notOk(tokens.accepts(`Bearer ${'x'.repeat(300)}`), 'over the longest token');
  const bang = new BearerTokens(['token-with-a-bang!-0123']);
  t.ok(bang.accepts('Bearer token-with-a-bang!-0123'));
  t.notOk(bang.accepts('Bearer token-with-a-bang\u0121-0123'), "a character whose low byte is the token's");
  const longest = 'L'.repeat(MAX_TOKEN_LENGTH);
  t.ok(new BearerTokens([longest]).accepts(`Bearer ${longest}`), 'a token of the longest length');
  t.notOk(new BearerTokens([longest]).accepts(`Bearer ${longest}L`));
  t.throws(() => new BearerTokens([`${longest}L`]), RangeError);
});

t.test('httpSecurityOf opens /metrics only with metrics_open', async (t) => {
  const base = { authToken: TOKENS, tlsCert: undefined, tlsKey: undefined };
  t.same(httpSecurityOf({ ...base, metricsOpen: false }).openRoutes, OPEN_ROUTES);
  t.same(httpSecurityOf({ ...base, metricsOpen: true }).openRoutes, [...OPEN_ROUTES, METRICS_ROUTE]);
  t.equal(httpSecurityOf({ ...base, metricsOpen: false }).tls, undefined);
});

t.test('a guarded app: open routes answer, the others need a token', async (t) => {
  const counters = { requests: 0, errors: 0 };
  const app = withBearerAuth(uws.App(), new BearerTokens(TOKENS), OPEN_ROUTES, counters);
  app
    .get('/livez', (res) => {
      res.end('live');
    })
    .get('/kv/*', (res, req) => {
      res.end(`key ${req.getUrl()}`);
    })
    .put('/kv/*', (res) => {
      res.end('put');
    })
    .any('/*', (res) => {
      res.writeStatus('404 Not Found').end('none');
    });
  const port = await new Promise<number>((resolve, reject) => {
    app.listen('127.0.0.1', 0, (socket) => {
      if (!socket) return reject(new Error('uWS did not listen'));
      t.teardown(() => uws.us_listen_socket_close(socket));
      resolve(uws.us_socket_local_port(socket));
    });
  });
  const url = `http://127.0.0.1:${port}`;
  t.equal((await request(`${url}/livez`)).text, 'live', 'open without a token');

  const missing = await request(`${url}/kv/a`);
  t.equal(missing.status, 401);
  t.equal(missing.headers.get('www-authenticate'), 'Bearer realm="lally"');
  t.match(missing.json(), { status: 'error', code: 'LALLY_ERR_UNAUTHENTICATED' });

  const wrong = await request(`${url}/kv/a`, { headers: { authorization: 'Bearer not-a-token-of-ours' } });
  t.equal(wrong.status, 401);
  t.match(wrong.headers.get('www-authenticate'), /error="invalid_token"/);

  const put = await request(`${url}/kv/a`, {
    method: 'PUT',
    body: 'x'.repeat(100_000),
    headers: { authorization: 'Bearer nope-nope-nope-nope' },
  });
  t.equal(put.status, 401, 'a refused PUT is answered without its body being read');
  t.equal((await request(`${url}/elsewhere`)).status, 401, 'unknown routes too: no route listing');

  for (const token of TOKENS) {
    const ok = await request(`${url}/kv/a`, { headers: { authorization: `Bearer ${token}` } });
    t.equal(ok.status, 200);
    t.equal(ok.text, 'key /kv/a');
  }
  t.same(
    counters,
    { requests: 4, errors: 4 },
    'the refused requests are counted (the served ones by their handlers)',
  );
});

t.test('a token of the longest length is accepted; a presented one longer than any is refused', async (t) => {
  const longest = 't'.repeat(MAX_TOKEN_LENGTH);
  const tokens = new BearerTokens([longest, TOKENS[0]!]);
  t.ok(tokens.accepts(`Bearer ${longest}`));
  t.notOk(tokens.accepts(`Bearer ${longest}t`), 'one character over');
  t.notOk(tokens.accepts(`Bearer ${'t'.repeat(MAX_TOKEN_LENGTH * 40)}`), 'far over');
  t.notOk(tokens.accepts(`Bearer ${longest.slice(1)}`), 'one under');
});
