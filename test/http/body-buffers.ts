/**
 * BodyBuffers alone, and readBody with it on a real uWS app: bodies in many chunks, several at once
 * on different sockets, interleaved, of sizes around the pool's classes and its cap. A buffer handed
 * to two bodies at once, or reused before its body was consumed, changes a body's digest.
 */
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import t from 'tap';
import { BodyBuffers } from '../../src/http/body-buffers.js';
import { readBody } from '../../src/http/body-reader.js';
import { loadNativeUws } from '../../src/http/uws-native.js';

const uws = loadNativeUws();
const MIN = BodyBuffers.MIN_BYTES;

t.test('take rounds up to a power of two, give keeps a few of each and drops the rest', async (t) => {
  const pool = new BodyBuffers(1 << 20, 2);
  t.equal(pool.take(1).byteLength, MIN);
  t.equal(pool.take(MIN).byteLength, MIN);
  t.equal(pool.take(MIN + 1).byteLength, 2 * MIN);
  t.equal(pool.take(1 << 20).byteLength, 1 << 20);
  t.equal(pool.take((1 << 20) + 1).byteLength, (1 << 20) + 1, 'past the cap: exactly the size');
  const a = pool.take(100_000);
  const b = pool.take(100_000);
  const c = pool.take(100_000);
  t.equal(a.byteLength, 128 * 1024);
  pool.give(a);
  pool.give(a);
  t.equal(pool.freeBytes, 128 * 1024, 'one buffer given twice is kept once');
  pool.give(b);
  pool.give(c);
  t.equal(pool.freeBytes, 2 * 128 * 1024, 'at most perClass kept');
  const again = pool.take(70_000);
  t.ok(again === a || again === b, 'a kept buffer is reused');
  pool.give(new Uint8Array((1 << 20) + 1));
  pool.give(new Uint8Array(100));
  pool.give(new Uint8Array(3 * MIN));
  t.equal(pool.freeBytes, 128 * 1024, 'buffers not of its classes are not kept');
});

/** An app whose PUT /digest answers the SHA-256 of the body readBody handed over. */
function digestApp(pool: BodyBuffers): Promise<{ port: number; close: () => void }> {
  const app = uws.App();
  app.put('/digest', (res, req) => {
    let aborted = false;
    res.onAborted(() => (aborted = true));
    readBody(
      res,
      req,
      4 << 20,
      (body) => {
        const digest = createHash('sha256').update(body).digest('hex');
        // Scribble over the buffer after use: a body still pointing into it would see this.
        body.fill(0x5a);
        if (!aborted) res.cork(() => res.end(digest));
      },
      (error) => {
        if (!aborted) res.cork(() => res.writeStatus('413 Payload Too Large').end(error.code));
      },
      undefined,
      pool,
    );
  });
  return new Promise((resolve, reject) => {
    app.listen('127.0.0.1', 0, (socket) => {
      if (!socket) return reject(new Error('uWS did not listen'));
      resolve({ port: uws.us_socket_local_port(socket), close: () => uws.us_listen_socket_close(socket) });
    });
  });
}

/** Sends a PUT of `body` in `parts` writes with pauses, optionally without Content-Length (chunked). */
function send(port: number, body: Buffer, parts: number, chunked: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let answer = '';
    const socket = connect(port, '127.0.0.1', async () => {
      socket.write(
        chunked
          ? 'PUT /digest HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n'
          : `PUT /digest HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.byteLength}\r\n\r\n`,
      );
      const step = Math.ceil(body.byteLength / parts);
      for (let at = 0; at < body.byteLength; at += step) {
        const part = body.subarray(at, at + step);
        socket.write(
          chunked
            ? Buffer.concat([Buffer.from(`${part.byteLength.toString(16)}\r\n`), part, Buffer.from('\r\n')])
            : part,
        );
        await new Promise((r) => setTimeout(r, 2));
      }
      if (chunked) socket.write('0\r\n\r\n');
    });
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1');
      const match = /\r\n\r\n([0-9a-f]{64}|LALLY_ERR_\w+)$/.exec(answer);
      if (match) {
        socket.destroy();
        resolve(match[1]!);
      }
    });
    socket.on('error', reject);
    setTimeout(
      () => reject(new Error(`no answer for ${body.byteLength} bytes: ${answer.slice(0, 200)}`)),
      20_000,
    ).unref();
  });
}

t.test('bodies in many chunks, several at once, keep their bytes with pooled buffers', async (t) => {
  const pool = new BodyBuffers(1 << 20, 2);
  const app = await digestApp(pool);
  t.teardown(app.close);
  const sizes = [MIN - 1, MIN, MIN + 1, 64 * 1024, 200_000, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 3_000_000];
  let seed = 7;
  const random = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  for (let round = 0; round < 3; round++) {
    const cases = Array.from({ length: 8 }, (_, i) => {
      const size = i < sizes.length && round === 0 ? sizes[i]! : sizes[Math.floor(random() * sizes.length)]!;
      const body = Buffer.alloc(size);
      for (let j = 0; j < size; j += 4096) body[j] = Math.floor(random() * 256);
      body.fill(round * 8 + i, 0, 64);
      return { body, parts: 2 + Math.floor(random() * 6), chunked: random() < 0.3 };
    });
    const answers = await Promise.all(cases.map((c) => send(app.port, c.body, c.parts, c.chunked)));
    for (const [i, c] of cases.entries()) {
      t.equal(
        answers[i],
        createHash('sha256').update(c.body).digest('hex'),
        `round ${round}: ${c.body.byteLength} bytes in ${c.parts} parts${c.chunked ? ', chunked' : ''}`,
      );
    }
  }
  t.ok(pool.freeBytes > 0, 'buffers came back to the pool');
  t.ok(pool.freeBytes <= 2 * 2 * (1 << 20), 'and the pool stays bounded');
});
