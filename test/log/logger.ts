import { readFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import t from 'tap';
import { createLogger, flushLogger } from '../../src/log/logger.js';

function capture(): { stream: { write(line: string): void }; lines: string[] } {
  const lines: string[] = [];
  return { stream: { write: (line: string) => void lines.push(line) }, lines };
}

t.test('JSON lines, level, name, and per-shard children', async (t) => {
  const { stream, lines } = capture();
  const log = createLogger({ level: 'info', name: 'lally', destination: stream });
  log.debug('hidden');
  log.info({ key: 'k' }, 'hello');
  log.child({ shard: 3 }).warn('from a shard');
  t.equal(lines.length, 2);
  const [first, second] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  t.match(first, { level: 30, name: 'lally', msg: 'hello', key: 'k' });
  t.match(second, { level: 40, shard: 3, msg: 'from a shard' });
  await flushLogger(log);
});

t.test('pretty output', async (t) => {
  const { stream, lines } = capture();
  const log = createLogger({ level: 'info', pretty: true, destination: stream });
  log.child({ shard: 1 }).info('pretty line');
  t.equal(lines.length, 1);
  t.match(lines[0], /INFO.*pretty line/);
  t.match(lines[0], /shard: 1/);
  t.notMatch(lines[0], /^\{/);
  await flushLogger(log);
});

t.test('silent logs nothing; a file destination; flushLogger resolves', async (t) => {
  const { stream, lines } = capture();
  createLogger({ level: 'silent', destination: stream }).fatal('nothing');
  t.same(lines, []);
  const dir = t.testdir({});
  const log = createLogger({ level: 'info', destination: `${dir}/sub/out.log` });
  for (let i = 0; i < 100; i++) log.info({ i }, 'line');
  await flushLogger(log);
  const written = (await readFile(`${dir}/sub/out.log`, 'utf8')).trim().split('\n');
  t.equal(written.length, 100);
});

t.test('flushLogger resolves even when the destination cannot flush', async (t) => {
  const failing = new Writable({ write: (_c, _e, cb) => cb() });
  const log = createLogger({
    level: 'info',
    destination: Object.assign(failing, {
      flush: () => {
        throw new Error('no');
      },
    }),
  });
  await flushLogger(log);
  t.pass();
});

t.test(
  'a worker that flushes before it reports keeps every line, even when terminated at once',
  async (t) => {
    const dir = t.testdir({});
    const file = `${dir}/worker.log`;
    const logger = new URL('../../src/log/logger.js', import.meta.url).href;
    const source = `
    import { openSync } from 'node:fs';
    import { parentPort } from 'node:worker_threads';
    const { createLogger, flushLogger } = await import(${JSON.stringify(logger)});
    const log = createLogger({ level: 'info', destination: openSync(${JSON.stringify(file)}, 'a') }).child({ shard: 7 });
    for (let i = 0; i < 5000; i++) log.info({ i }, 'worker line');
    await flushLogger(log);
    parentPort.postMessage('flushed');
    setInterval(() => {}, 1000); // stay alive: the parent terminates us
  `;
    // A data: URL module, and the test's own loaders (execArgv), so that the worker can import TypeScript.
    const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(source)}`), {
      execArgv: process.execArgv,
    });
    const message = await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    t.equal(message, 'flushed');
    await worker.terminate();
    const lines = (await readFile(file, 'utf8')).trim().split('\n');
    t.equal(lines.length, 5000);
    t.match(JSON.parse(lines.at(-1)!), { shard: 7, i: 4999, msg: 'worker line' });
  },
);
