/**
 * What the fuzzer's raw-socket probes found about uWebSockets.js 20.30, pinned as docs/api.md ("HTTP
 * limits") states it, so that an upgrade that changes it shows:
 *  - a request pipelined behind one that Lally answers asynchronously (GET /stats gathers from every
 *    shard) in the same TCP read: uWS closes the connection and answers neither;
 *  - the same two requests in separate writes, after the first answer: both answered;
 *  - requests answered at once (GET /greet) pipelined: both answered;
 *  - a method uWS does not know (FOO, lower-case get): the connection is closed at once, unanswered.
 */
import { connect } from 'node:net';
import t from 'tap';
import { startDaemon } from '../fixtures/daemon-process.js';

/** Writes `parts` (waiting for an answer between them when `waitBetween`) and collects what comes back. */
function exchange(
  port: number,
  parts: string[],
  waitBetween: boolean,
  holdMs = 2000,
): Promise<{ answer: string; closed: boolean }> {
  return new Promise((resolve) => {
    let answer = '';
    let settled = false;
    const settle = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ answer, closed });
    };
    const socket = connect(port, '127.0.0.1', async () => {
      for (const part of parts) {
        const before = answer.length;
        socket.write(part);
        if (!waitBetween) continue;
        for (let n = 0; n < 100 && answer.length === before && !socket.destroyed; n++) {
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    });
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('close', () => settle(true));
    socket.on('error', () => settle(true));
    const timer = setTimeout(() => settle(false), holdMs);
  });
}

const STATS = 'GET /stats HTTP/1.1\r\nHost: x\r\n\r\n';
const GREET = 'GET /greet HTTP/1.1\r\nHost: x\r\n\r\n';
const answers = (text: string) => (text.match(/HTTP\/1\.1 \d{3}/g) ?? []).length;

t.test('pipelining and unknown methods (uWS 20.30)', async (t) => {
  const daemon = await startDaemon(t, { shards: 2, args: ['--no-aof'] });

  const pipelined = await exchange(daemon.port, [STATS + GREET], false);
  t.ok(pipelined.closed, 'a request pipelined behind an asynchronous answer: the connection is closed');
  t.equal(answers(pipelined.answer), 0, 'and neither request is answered');

  const separate = await exchange(daemon.port, [STATS, GREET], true);
  t.equal(answers(separate.answer), 2, 'the same requests, one after the other answer: both answered');
  t.notOk(separate.closed, 'and the connection stays open');

  const quick = await exchange(daemon.port, [GREET + GREET], false);
  t.equal(answers(quick.answer), 2, 'requests answered at once may be pipelined');

  for (const method of ['FOO', 'get']) {
    const odd = await exchange(daemon.port, [`${method} /greet HTTP/1.1\r\nHost: x\r\n\r\n`], false);
    t.ok(odd.closed, `${method}: the connection is closed at once`);
    t.equal(odd.answer, '', `${method}: no answer`);
  }

  const stats = await fetch(`${daemon.url}/stats`);
  t.equal(stats.status, 200, 'the daemon still serves');
  await stats.arrayBuffer();
  await daemon.stop();
});
