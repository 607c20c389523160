import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Logger, pino } from 'pino';
import t from 'tap';
import { ErrorCodes, LallyError } from '../../src/errors.js';
import {
  type HookContext,
  type HookOperation,
  HookRunner,
  loadHookModule,
} from '../../src/hooks/hook-runner.js';
import { repoPath } from '../fixtures/paths.js';

const FIXTURES = repoPath('test/fixtures/unit-hooks');

interface HookEvent {
  hook: string;
  call: 'init' | 'op' | 'close';
  key?: string;
  ctx?: HookContext;
}

// The same module instance the fixtures import (one URL, one module).
const { events } = (await import(pathToFileURL(join(FIXTURES, 'events.mjs')).href)) as {
  events: HookEvent[];
};

function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'debug' },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { logger, lines };
}

function op(key: string, name: 'ADD' | 'REMOVE' = 'ADD'): HookOperation {
  return {
    name,
    key,
    value: name === 'ADD' ? 'v' : undefined,
    timestamp: '2024-12-30T10:15:00.123Z',
    version: { wall: Date.UTC(2024, 11, 30, 10, 15, 0, 123), counter: 0, node: 1 },
    shard: 1,
    origin: 'client',
  };
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

t.beforeEach(() => {
  events.length = 0;
});

t.test(
  'load: relative paths against baseDir, absolute paths as they are; init gets the context',
  async (t) => {
    const { logger } = capturingLogger();
    const ctx = { shard: 1, shards: 4, logger };
    const runner = await HookRunner.load(
      ['first.mjs', join(FIXTURES, 'second.mjs'), './throwing.mjs'],
      FIXTURES,
      ctx,
    );
    t.same(runner.names, ['first', 'second', 'throwing']);
    t.equal(runner.active, true);
    t.same(
      events.map((e) => [e.hook, e.call]),
      [
        ['first', 'init'],
        ['throwing', 'init'],
      ],
      'init runs once per hook that has one, in order (an async init is awaited)',
    );
    const first = events[0]!.ctx!;
    t.equal(first.shard, 1);
    t.equal(first.shards, 4);
    t.equal(first.logger, logger, 'the logger given to load');
    t.same(Object.keys(first).sort(), ['logger', 'shard', 'shards']);
  },
);

t.test('an empty runner', async (t) => {
  const { logger } = capturingLogger();
  const loaded = await HookRunner.load([], FIXTURES, { shard: 0, shards: 1, logger });
  t.equal(loaded.active, false);
  t.same(loaded.names, []);
  const runner = new HookRunner([], logger);
  runner.run(op('k'));
  await runner.close();
  t.equal(runner.failures, 0);
});

t.test(
  'run calls every hook in order; failures are counted, logged with the hook name, and the others run',
  async (t) => {
    const { logger, lines } = capturingLogger();
    const runner = await HookRunner.load(
      ['throwing.mjs', 'first.mjs', 'rejecting.mjs', 'second.mjs'],
      FIXTURES,
      { shard: 0, shards: 1, logger },
    );
    events.length = 0;
    runner.run(op('a'));
    runner.run(op('b', 'REMOVE'));
    t.same(
      events.map((e) => `${e.hook}:${e.key}`),
      [
        'throwing:a',
        'first:a',
        'rejecting:a',
        'second:a',
        'throwing:b',
        'first:b',
        'rejecting:b',
        'second:b',
      ],
    );
    t.equal(runner.failures, 2, 'throws are counted at once; rejections later');
    await tick();
    t.equal(runner.failures, 4);
    const failed = lines.filter((line) => line.msg === 'hook failed; the write goes on');
    t.same(
      failed.map((line) => [line.level, line.hook, line.op, line.key]),
      [
        [50, 'throwing', 'ADD', 'a'],
        [50, 'throwing', 'REMOVE', 'b'],
        [50, 'rejecting', 'ADD', 'a'],
        [50, 'rejecting', 'REMOVE', 'b'],
      ],
    );
    t.same(
      failed.map((line) => (line.err as { message: string }).message),
      ['thrown for a', 'thrown for b', 'rejected for a', 'rejected for b'],
      'the error is logged',
    );
  },
);

t.test('a hook object given directly; a thenable without rejection is not a failure', async (t) => {
  const { logger, lines } = capturingLogger();
  const seen: HookOperation[] = [];
  const runner = new HookRunner(
    [
      { name: 'sync', onOperation: (o) => void seen.push(o) },
      { name: 'async', onOperation: async () => {} },
    ],
    logger,
  );
  const operation = op('k');
  runner.run(operation);
  await tick();
  t.equal(seen[0], operation, 'the operation object itself');
  t.equal(runner.failures, 0);
  t.equal(lines.length, 0);
});

t.test('close calls close on every hook in order and survives one that throws', async (t) => {
  const { logger, lines } = capturingLogger();
  const runner = await HookRunner.load(
    ['throwing.mjs', 'second.mjs', 'rejecting.mjs', 'first.mjs'],
    FIXTURES,
    { shard: 0, shards: 1, logger },
  );
  events.length = 0;
  await runner.close();
  t.same(
    events.map((e) => `${e.hook}:${e.call}`),
    ['throwing:close', 'rejecting:close', 'first:close'],
    'an async close is awaited before the next',
  );
  t.same(
    lines.map((line) => [line.level, line.msg, line.hook, (line.err as { message: string }).message]),
    [[50, 'hook failed to close', 'throwing', 'close failed']],
  );
  t.equal(runner.failures, 0, 'close failures are not write failures');
});

t.test('a missing module: LALLY_ERR_HOOK_LOAD naming the resolved path', async (t) => {
  const { logger } = capturingLogger();
  const expected = join(FIXTURES, 'does-not-exist.mjs');
  for (const path of ['does-not-exist.mjs', expected]) {
    const error = await HookRunner.load([path], FIXTURES, { shard: 0, shards: 1, logger }).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.ok(error instanceof LallyError, path);
    t.equal((error as LallyError).code, ErrorCodes.HOOK_LOAD);
    t.match((error as LallyError).message, `hook ${expected} could not be loaded: `);
    t.ok((error as LallyError).cause, 'the import error is the cause');
  }
});

t.test('a module that throws at import: LALLY_ERR_HOOK_LOAD', async (t) => {
  const error = await loadHookModule('throws-on-import.mjs', FIXTURES).catch((e: unknown) => e);
  t.equal((error as LallyError).code, ErrorCodes.HOOK_LOAD);
  t.match((error as LallyError).message, 'broken at import');
});

t.test('a module that does not export a hook: LALLY_ERR_HOOK_LOAD', async (t) => {
  for (const file of ['no-name.mjs', 'no-on-operation.mjs', 'no-default.mjs']) {
    const error = await loadHookModule(file, FIXTURES).catch((e: unknown) => e);
    t.ok(error instanceof LallyError, file);
    t.equal((error as LallyError).code, ErrorCodes.HOOK_LOAD);
    t.equal(
      (error as LallyError).message,
      `hook ${join(FIXTURES, file)} must default-export an object with a string "name" and a function "onOperation"`,
    );
  }
});

t.test('load stops at the first bad module; earlier inits have run', async (t) => {
  const { logger } = capturingLogger();
  await t.rejects(
    HookRunner.load(['first.mjs', 'no-name.mjs', 'throwing.mjs'], FIXTURES, { shard: 0, shards: 1, logger }),
    { code: ErrorCodes.HOOK_LOAD },
  );
  t.same(
    events.map((e) => `${e.hook}:${e.call}`),
    ['first:init'],
  );
});

t.test('an init that throws fails the load', async (t) => {
  const { logger } = capturingLogger();
  await t.rejects(HookRunner.load(['init-fails.mjs'], FIXTURES, { shard: 0, shards: 1, logger }), {
    message: 'init refused',
  });
});

t.test('loadHookModule returns the default export', async (t) => {
  const hook = await loadHookModule(join(FIXTURES, 'second.mjs'), '/nowhere');
  const direct = (await import(pathToFileURL(join(FIXTURES, 'second.mjs')).href)) as { default: unknown };
  t.equal(hook, direct.default);
  t.equal(hook.name, 'second');
});
