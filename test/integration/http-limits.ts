/**
 * What uWebSockets.js does with hostile connections, as docs/security.md states it, on a real daemon
 * over raw sockets: a request head over its limit is cut without an answer; a slowloris client (one
 * that trickles its request head) is cut after uWS's fixed 10 s timeout, while a client that keeps
 * sending requests on its connection meanwhile is served throughout; path tricks stay keys, and do
 * not reach another route (nor get past the token).
 */
import { connect, type Socket } from 'node:net';
import t from 'tap';
import { startDaemon } from '../fixtures/daemon-process.js';

const TOKEN = 'limits-token-0123456789';
const AUTH = `Authorization: Bearer ${TOKEN}\r\n`;

interface RawAnswer {
  text: string;
  closedAfterMs: number | undefined;
}

/** Sends `head` on a new connection; collects what comes back until it closes or `waitMs` passes. */
function exchange(port: number, head: string, waitMs: number): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1', () => socket.write(head));
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('error', () => {});
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closedAfterMs: undefined });
    }, waitMs);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closedAfterMs: Date.now() - started });
    });
  });
}

const statusOf = (text: string) => /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1];

t.test('hostile connections against a daemon', async (t) => {
  const node = await startDaemon(t, {
    shards: 1,
    args: ['--no-aof', '--auth-token', TOKEN, '--body-timeout-ms', '1000'],
  });
  const port = node.port;

  // Slowloris: the head trickles in, a byte every 500 ms; uWS does not restart its timer for it.
  const slow = new Promise<{ closedAfterMs: number; answered: boolean }>((resolve) => {
    const started = Date.now();
    const head = `GET /kv/a HTTP/1.1\r\nHost: x\r\n${AUTH}X-Padding: ${'p'.repeat(200)}\r\n\r\n`;
    let sent = 0;
    let answered = false;
    const socket: Socket = connect(port, '127.0.0.1');
    socket.on('data', () => (answered = true));
    socket.on('error', () => {});
    const drip = setInterval(() => socket.write(head[sent++ % head.length]!), 500);
    socket.on('close', () => {
      clearInterval(drip);
      resolve({ closedAfterMs: Date.now() - started, answered });
    });
    setTimeout(() => socket.destroy(), 30_000).unref();
  });

  // Meanwhile a well-behaved client sends a request every 300 ms on one keep-alive connection.
  const normal = connect(port, '127.0.0.1');
  let answers = 0;
  normal.on(
    'data',
    (chunk: Buffer) => (answers += chunk.toString('latin1').split('HTTP/1.1 200').length - 1),
  );
  let normalClosed = false;
  normal.on('close', () => (normalClosed = true));
  const ask = setInterval(() => normal.write(`GET /greet HTTP/1.1\r\nHost: x\r\n${AUTH}\r\n`), 300);
  t.teardown(() => {
    clearInterval(ask);
    normal.destroy();
  });

  // While those run: request heads over and under the limit, and path tricks.
  const big = await exchange(
    port,
    `GET /greet HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(200_000)}\r\n\r\n`,
    3000,
  );
  t.equal(big.text, '', 'a 200 KB head gets no answer');
  t.ok(big.closedAfterMs !== undefined, 'and its connection is closed at once');
  const fits = await exchange(
    port,
    `GET /greet HTTP/1.1\r\nHost: x\r\n${AUTH}X-Big: ${'a'.repeat(3500)}\r\n\r\n`,
    3000,
  );
  t.equal(statusOf(fits.text), '200', 'a head under 4 KiB is served');

  const dotted = await exchange(port, `GET /kv/../stats HTTP/1.1\r\nHost: x\r\n${AUTH}\r\n`, 3000);
  t.equal(statusOf(dotted.text), '404', '/kv/../stats is the key "../stats", not the stats');
  t.match(dotted.text, /"key":"\.\.\/stats"/, 'the key as sent');
  for (const path of ['/livez/../kv/a', '/greet/../kv/a', '//kv/a', '/kv/a?/livez', '/%6bv/a']) {
    const answer = await exchange(port, `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`, 3000);
    t.equal(statusOf(answer.text), '401', `${path} without a token: 401`);
  }

  // A body that trickles (a byte every 300 ms, which keeps uWS's own timer going): 408 after
  // body_timeout_ms, and the connection closed; a body that comes at once is stored.
  const trickle = await new Promise<RawAnswer>((resolve) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1', () =>
      socket.write(`PUT /kv/slow HTTP/1.1\r\nHost: x\r\n${AUTH}Content-Length: 1000\r\n\r\nab`),
    );
    const drip = setInterval(() => socket.write('c'), 300);
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(drip);
      resolve({ text, closedAfterMs: Date.now() - started });
    });
  });
  t.equal(statusOf(trickle.text), '408', 'a trickled body: 408');
  t.match(trickle.text, /LALLY_ERR_REQUEST_TIMEOUT/);
  t.ok((trickle.closedAfterMs ?? 0) < 6000, `and closed (${trickle.closedAfterMs} ms)`);
  const whole = await exchange(
    port,
    `PUT /kv/whole HTTP/1.1\r\nHost: x\r\n${AUTH}Content-Length: 5\r\n\r\nhello`,
    1500,
  );
  t.equal(statusOf(whole.text), '200', 'a body sent at once is stored');

  const cut = await slow;
  clearInterval(ask);
  t.notOk(cut.answered, 'the slowloris client got no answer');
  t.ok(
    cut.closedAfterMs >= 8000 && cut.closedAfterMs < 20_000,
    `cut after ${cut.closedAfterMs} ms (uWS: 10 s)`,
  );
  t.notOk(normalClosed, 'the busy keep-alive client was not cut');
  t.ok(answers >= 20, `the busy client was served throughout (${answers} answers)`);
  const after = await exchange(port, `GET /greet HTTP/1.1\r\nHost: x\r\n${AUTH}\r\n`, 3000);
  t.equal(statusOf(after.text), '200', 'the node still serves');
});
