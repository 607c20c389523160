/**
 * A shard told to stop while it is still starting (another shard failed its start) must stop: before
 * the fix it went on replaying after close() had released its AOF, then failed on the closed file or
 * started its inbox and HTTP app, which kept its thread, and so the whole node, alive.
 */
import { join } from 'node:path';
import { pino } from 'pino';
import t from 'tap';
import { ShardAof } from '../../src/aof/shard-aof.js';
import type { AofRecord } from '../../src/aof/types.js';
import { loadConfig } from '../../src/config/load-config.js';
import type { ShardToMain } from '../../src/shard/control-messages.js';
import { type ControlChannel, type ShardLog, ShardRuntime } from '../../src/shard/shard-runtime.js';
import { tempDir } from '../fixtures/daemon-process.js';
import { writeShardData } from '../fixtures/shard-data.js';

const silent = pino({ level: 'silent' });

/** Waits for `condition`, failing after 5 s (the old runtime never closed its channel here). */
async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('the shard did not close its control channel within 5 s');
    await new Promise((r) => setTimeout(r, 5));
  }
}

t.test('drain and close during the replay abandon the start, and the shard closes cleanly', async (t) => {
  const dataDir = join(await tempDir(t), 'data');
  await writeShardData(dataDir, 1, 50_000);
  const result = await loadConfig(
    ['--config', '', '--data-dir', dataDir, '--shards', '1'],
    {},
    process.cwd(),
  );
  if (result.kind !== 'run') throw new Error(`config: ${JSON.stringify(result)}`);

  let replaying!: () => void;
  const firstRecord = new Promise<void>((resolve) => (replaying = resolve));
  let applied = 0;
  let logClosed = false;
  const openLog = async (): Promise<ShardLog> => {
    const aof = await ShardAof.open({
      dataDir,
      shard: 0,
      shards: 1,
      fsync: 'no',
      flushIntervalMs: 1000,
      rewriteMinSize: 1 << 30,
      rewritePercentage: 100,
      logger: silent,
    });
    // The real AOF; only its replay callback is watched, to send the stop mid-replay.
    return Object.assign(Object.create(aof) as ShardAof, {
      replay: (onRecord: (record: AofRecord) => void) =>
        aof.replay((record) => {
          applied++;
          replaying();
          onRecord(record);
        }),
      // The runtime replays encoded records when the log offers them (the real AOF does).
      replayEncoded: (onRecord: (buf: Buffer, offset: number) => void) =>
        aof.replayEncoded((buf, offset) => {
          applied++;
          replaying();
          onRecord(buf, offset);
        }),
      // Methods that read the AOF's private fields are called on it, not on this wrapper.
      expectedKeys: () => aof.expectedKeys(),
      close: async () => {
        logClosed = true;
        await aof.close();
      },
    });
  };

  const posted: ShardToMain[] = [];
  const listeners: ((message: import('../../src/shard/control-messages.js').MainToShard) => void)[] = [];
  let channelClosed = false;
  const control: ControlChannel = {
    postMessage: (message) => posted.push(message),
    on: (_event, listener) => listeners.push(listener),
    close: () => {
      channelClosed = true;
    },
  };
  let transportStarted = false;
  const runtime = new ShardRuntime({
    data: {
      shard: 0,
      shards: 1,
      nodeId: 7,
      config: result.config,
      rings: { inbound: [], outbound: [], doorbells: [] },
    },
    control,
    logger: silent,
    transport: {
      links: [undefined],
      start: () => {
        transportStarted = true;
      },
      close: () => undefined,
    },
    openLog,
  });
  const started = runtime.start();
  await firstRecord;
  for (const listener of listeners) listener({ type: 'drain', deadlineMs: 100 });
  for (const listener of listeners) listener({ type: 'close' });
  await started;
  await until(() => channelClosed);
  t.same(
    posted.map((m) => m.type),
    ['drained', 'closed'],
    'drained and closed, never ready, nothing failed',
  );
  t.ok(applied < 50_000, `the replay stopped early (${applied} records applied)`);
  t.equal(transportStarted, false, 'the inbox was never started');
  t.equal(logClosed, true, 'the AOF was closed');
});

t.test(
  'a close that fails still reports closed, after a fatal (the node exits 1, not cleanly)',
  async (t) => {
    const dataDir = join(await tempDir(t), 'data');
    const result = await loadConfig(
      ['--config', '', '--data-dir', dataDir, '--shards', '1'],
      {},
      process.cwd(),
    );
    if (result.kind !== 'run') throw new Error(`config: ${JSON.stringify(result)}`);
    const posted: ShardToMain[] = [];
    const listeners: ((message: import('../../src/shard/control-messages.js').MainToShard) => void)[] = [];
    let channelClosed = false;
    let transportClosed = false;
    const runtime = new ShardRuntime({
      data: {
        shard: 0,
        shards: 1,
        nodeId: 7,
        config: result.config,
        rings: { inbound: [], outbound: [], doorbells: [] },
      },
      control: {
        postMessage: (message) => posted.push(message),
        on: (_event, listener) => listeners.push(listener),
        close: () => {
          channelClosed = true;
        },
      },
      logger: silent,
      transport: {
        links: [undefined],
        start: () => undefined,
        close: () => {
          transportClosed = true;
          throw new Error('the links would not close');
        },
      },
      openLog: async () => undefined,
    });
    await runtime.start();
    for (const listener of listeners) listener({ type: 'close' });
    await until(() => channelClosed);
    t.same(
      posted.map((m) => m.type),
      ['ready', 'fatal', 'closed'],
    );
    t.match(posted[1], { type: 'fatal', message: 'the links would not close' });
    t.ok(transportClosed);
  },
);
