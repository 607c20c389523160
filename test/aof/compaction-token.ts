import { Worker } from 'node:worker_threads';
import t from 'tap';
import {
  allocateCompactionToken,
  CompactionToken,
  threadCompactionToken,
} from '../../src/aof/compaction-token.js';

t.test('one holder at a time; a waiter takes the token when it is given back', async (t) => {
  const buffer = allocateCompactionToken();
  const a = new CompactionToken(buffer);
  const b = new CompactionToken(buffer);
  await a.acquire(0);
  t.equal(a.holder, 1, 'shard 0 holds it');
  t.notOk(b.tryAcquire(1), 'shard 1 cannot take it meanwhile');
  let taken = false;
  const waiting = b.acquire(1).then(() => {
    taken = true;
  });
  await new Promise((r) => setTimeout(r, 50));
  t.notOk(taken, 'the waiter still waits');
  b.release(1);
  t.equal(a.holder, 1, 'only the holder gives it back');
  a.release(0);
  await waiting;
  t.ok(taken);
  t.equal(b.holder, 2, 'shard 1 holds it now');
  b.release(1);
  t.equal(a.holder, 0, 'free');
});

t.test('a wait ends with the abort of its signal', async (t) => {
  const buffer = allocateCompactionToken();
  const holder = new CompactionToken(buffer);
  t.ok(holder.tryAcquire(0));
  const closing = new AbortController();
  const waiting = new CompactionToken(buffer).acquire(1, closing.signal);
  closing.abort(new Error('shard closing'));
  await t.rejects(waiting, { message: 'shard closing' });
  t.equal(holder.holder, 1, 'the holder keeps it');
});

t.test('a token held by another thread is waited for across threads', async (t) => {
  const buffer = allocateCompactionToken();
  const worker = new Worker(
    `const { workerData, parentPort } = require('node:worker_threads');
     const word = new Int32Array(workerData, 0, 1);
     Atomics.store(word, 0, 4);
     parentPort.postMessage('held');
     setTimeout(() => { Atomics.store(word, 0, 0); Atomics.notify(word, 0); }, 100);`,
    { eval: true, workerData: buffer },
  );
  await new Promise((r) => worker.once('message', r));
  const token = new CompactionToken(buffer);
  t.equal(token.holder, 4, 'shard 3 (in the other thread) holds it');
  await token.acquire(0);
  t.equal(token.holder, 1, 'taken once the other thread let it go');
  await new Promise((r) => worker.once('exit', r));
});

t.test('the main thread has no node token', async (t) => {
  t.equal(threadCompactionToken(), undefined);
});
