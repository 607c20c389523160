/**
 * HTTP at the edges, over raw sockets against a real daemon: what uWebSockets.js (20.30) answers, what
 * Lally adds on top of it (conflicting Content-Length), and the cases uWS gives an application no hook
 * for, pinned as docs/api.md ("HTTP limits") describes them so that an upgrade that changes them shows.
 */
import { connect } from 'node:net';
import t, { type Test } from 'tap';
import { request, startDaemon } from '../fixtures/daemon-process.js';

interface Exchange {
  /** Everything the server sent (latin1). */
  readonly answer: string;
  /** How long until the server closed the connection (ms), or undefined if it held it past `holdMs`. */
  readonly closedAfterMs: number | undefined;
}

/** Sends `parts` (50 ms apart, so that each arrives in its own read) and waits for the server to close. */
function exchange(port: number, parts: (string | Buffer)[], holdMs = 3000): Promise<Exchange> {
  return new Promise((resolve) => {
    const started = Date.now();
    let answer = '';
    let settled = false;
    const socket = connect(port, '127.0.0.1', async () => {
      for (const [index, part] of parts.entries()) {
        if (index > 0) await new Promise((r) => setTimeout(r, 50));
        if (!socket.destroyed) socket.write(part);
      }
    });
    const settle = (closedAfterMs: number | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ answer, closedAfterMs });
    };
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('close', () => settle(Date.now() - started));
    socket.on('error', () => settle(Date.now() - started));
    const timer = setTimeout(() => settle(undefined), holdMs);
  });
}

const headers = (count: number) => Array.from({ length: count }, (_, i) => `X-Filler-${i}: v\r\n`).join('');
/** Well under uWS's 10 s idle timeout: the server closed the connection itself, at once. */
const PROMPT_MS = 2000;

const heldCases: [string, string][] = [
  ['HTTP/1.0', 'GET /greet HTTP/1.0\r\nHost: x\r\n\r\n'],
  ['49 header lines', `GET /greet HTTP/1.1\r\nHost: x\r\n${headers(47)}Connection: close\r\n\r\n`],
  ['a garbage request line', 'HELLO THERE\r\n\r\n'],
  ['bare LF line ends', 'GET /greet HTTP/1.1\nHost: x\nConnection: close\n\n'],
  ['HTTP/2.0 in an HTTP/1 request line', 'GET /greet HTTP/2.0\r\nHost: x\r\n\r\n'],
];

t.test('HTTP edges against one daemon', async (t) => {
  const daemon = await startDaemon(t, { shards: 2, args: ['--no-aof'] });
  // uWS's idle timeout takes 10 s or more: those connections are opened first and checked last.
  const held = heldCases.map(([, text]) => exchange(daemon.port, [text], 20_000));
  await t.test('conflicting Content-Length headers', (t) => conflictingLengths(t, daemon));
  await t.test('framing uWS refuses by closing at once', (t) => refusedFraming(t, daemon));
  await t.test('requests uWS never hands over', (t) => neverHandedOver(t, daemon, held));
  await daemon.stop();
});

type Daemon = Awaited<ReturnType<typeof startDaemon>>;

/** Refused with 400 and the connection closed. */
async function conflictingLengths(t: Test, daemon: Daemon): Promise<void> {
  for (const [method, path] of [
    ['PUT', '/kv/smuggled'],
    ['POST', '/add'],
    ['GET', '/kv/smuggled'],
    ['POST', '/batch'],
  ] as const) {
    // No "Connection: close": the server must close by itself, the bytes after the head are suspect.
    const { answer, closedAfterMs } = await exchange(daemon.port, [
      `${method} ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 30\r\n\r\nab`,
    ]);
    t.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/, `${method} ${path}: 400`);
    t.match(answer, /"code":"LALLY_ERR_BAD_REQUEST"/);
    t.match(answer, /Content-Length headers that disagree \(2 and 30\)/);
    t.ok(
      closedAfterMs !== undefined && closedAfterMs < PROMPT_MS,
      `${method} ${path}: closed after ${closedAfterMs} ms`,
    );
  }
  t.equal((await request(`${daemon.url}/kv/smuggled`)).status, 404, 'nothing was stored');

  const repeated = await exchange(daemon.port, [
    'PUT /kv/same HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\ncontent-length: 2\r\nConnection: close\r\n\r\nab',
  ]);
  t.match(
    repeated.answer,
    /^HTTP\/1\.1 200 OK\r\n/,
    'the same length twice is accepted (RFC 9112 allows it)',
  );
  t.equal((await request(`${daemon.url}/kv/same?raw`)).text, 'ab');
}

/** Closed at once, without an answer. */
async function refusedFraming(t: Test, daemon: Daemon): Promise<void> {
  const cases: [string, (string | Buffer)[]][] = [
    [
      'Transfer-Encoding chunked with Content-Length',
      [
        'PUT /kv/te HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n2\r\nab\r\n0\r\n\r\n',
      ],
    ],
    ['a Content-Length list', ['PUT /kv/cl HTTP/1.1\r\nHost: x\r\nContent-Length: 2, 2\r\n\r\nab']],
    [
      'a Content-Length that is no number',
      ['PUT /kv/cl HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\nab'],
    ],
    [
      'a header block over 4 KiB in more than one read',
      ['GET /greet HTTP/1.1\r\nHost: x\r\n', `X-Long: ${'a'.repeat(5000)}\r\n\r\n`],
    ],
  ];
  for (const [name, parts] of cases) {
    const { answer, closedAfterMs } = await exchange(daemon.port, parts);
    t.equal(answer, '', `${name}: no answer`);
    t.ok(
      closedAfterMs !== undefined && closedAfterMs < PROMPT_MS,
      `${name}: closed after ${closedAfterMs} ms`,
    );
  }
  t.equal((await request(`${daemon.url}/kv/te`)).status, 404, 'nothing was stored');

  const chunked = await exchange(daemon.port, [
    'PUT /kv/chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n',
  ]);
  t.match(chunked.answer, /^HTTP\/1\.1 200 OK\r\n/, 'a chunked body alone is fine');
  t.equal((await request(`${daemon.url}/kv/chunked?raw`)).text, 'abc');
  const most = await exchange(daemon.port, [
    `GET /greet HTTP/1.1\r\nHost: x\r\n${headers(46)}Connection: close\r\n\r\n`,
  ]);
  t.match(most.answer, /^HTTP\/1\.1 200 OK\r\n/, '48 header lines are served');
}

/** No answer; the connection is closed by uWS's 10 s idle timeout. */
async function neverHandedOver(t: Test, daemon: Daemon, held: Promise<Exchange>[]): Promise<void> {
  const results = await Promise.all(held);
  for (const [index, [name]] of heldCases.entries()) {
    const { answer, closedAfterMs } = results[index]!;
    t.equal(answer, '', `${name}: no answer (uWS gives no hook to send one)`);
    t.ok(
      closedAfterMs !== undefined,
      `${name}: the server closes the connection (after ${closedAfterMs} ms)`,
    );
  }
  t.equal((await request(`${daemon.url}/greet`)).status, 200, 'and the node serves on');
}
