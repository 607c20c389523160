/**
 * The long version of test/integration/hostile-traffic.ts (`npm run stress`, a few minutes): far more
 * requests, and seeded random mixes of sizes and operations (STRESS_SEED=<n> replays one seed, and
 * every failure names the seed). Same promises: every request is answered (200/404, or a clear 503/504
 * with a JSON code), no acknowledged write is lost, peak RSS stays bounded, SIGTERM exits 0 promptly.
 */
import t from 'tap';
import { startDaemon } from '../fixtures/daemon-process.js';
import {
  batchItems,
  isClearAnswer,
  keysByShard,
  lostWrites,
  MiB,
  type Outcome,
  peakRss,
  pool,
  randomMix,
  send,
  valueFor,
} from '../fixtures/hostile-traffic.js';

const NO_ANSWER_MS = 30_000;
/**
 * As in the short test (the reasoning is there), plus the data this run stores: the mixes keep every
 * value they write (about 330 MB), held once by the store, once more while a compaction rewrites the
 * AOF, and V8 lets a heap grow well past its live data before it collects. Measured: 1.0 GiB after
 * the 420 batches (the phase that reached 8 GiB before the fix), 2.0 to 2.3 GiB at the end, the rise
 * following the stored data, not the traffic.
 */
const TRANSIENT_BOUND = 2048 * MiB;
const SEEDS = process.env.STRESS_SEED ? [Number(process.env.STRESS_SEED)] : [11, 12, 13, 14];

function tally(outcomes: Outcome[]): string {
  const counts: Record<string, number> = {};
  for (const o of outcomes) {
    const label = o.status === 0 ? `none: ${o.error}` : `${o.status}${o.code ? ` ${o.code}` : ''}`;
    counts[label] = (counts[label] ?? 0) + 1;
  }
  return JSON.stringify(counts);
}

t.setTimeout(900_000);

t.test('hostile but valid traffic, at length', async (t) => {
  const daemon = await startDaemon(t, { shards: 2 });
  const { url } = daemon;
  const pid = daemon.child.pid!;
  const [big0, big1] = await keysByShard(2, 2, 'big');
  const bigKeys = [big0![0]!, big1![0]!, big0![1]!, big1![1]!];
  for (const [i, key] of bigKeys.entries()) {
    const put = await send(url, 'PUT', `/kv/${key}`, valueFor(key, i < 2 ? MiB : MiB - 1), NO_ANSWER_MS);
    t.equal(put.status, 200);
  }
  const smallKeys = (await keysByShard(2, 500, 'small')).flat();
  await pool(
    smallKeys.map((key) => () => send(url, 'PUT', `/kv/${key}`, valueFor(key, 1024), NO_ANSWER_MS)),
    32,
  );
  const rss: number[] = [];
  let storedBytes = 4 * MiB + smallKeys.length * 1024;

  await t.test('420 batches of 32 GETs over two 1 MiB values, 16 at a time', async (t) => {
    // Before the fix: none answered, and this many grew the process to 8 GiB and killed it.
    const ops = JSON.stringify(Array.from({ length: 32 }, (_, i) => ({ op: 'get', key: bigKeys[i % 2]! })));
    const outcomes = await pool(
      Array.from({ length: 420 }, () => () => send(url, 'POST', '/batch', ops, NO_ANSWER_MS)),
      16,
    );
    t.ok(
      outcomes.every((o) => isClearAnswer(o)),
      tally(outcomes),
    );
    const items = outcomes.map(batchItems);
    t.equal(
      items.reduce((n, f) => n + f.other, 0),
      0,
    );
    const whole = items.filter((f) => f.ok === 32).length;
    t.ok(whole > 0, `batches are answered whole (${whole} of 420)`);
    rss.push(peakRss(pid));
  });

  await t.test('20 batches of 10,000 GETs of 1 KiB values, 4 at a time', async (t) => {
    const ops = JSON.stringify(
      Array.from({ length: 10_000 }, (_, i) => ({ op: 'get', key: smallKeys[i % smallKeys.length]! })),
    );
    const outcomes = await pool(
      Array.from({ length: 20 }, () => () => send(url, 'POST', '/batch', ops, NO_ANSWER_MS)),
      4,
    );
    t.ok(
      outcomes.every((o) => isClearAnswer(o)),
      tally(outcomes),
    );
    rss.push(peakRss(pid));
  });

  await t.test('five rounds of 200 concurrent GETs of 1 MiB values', async (t) => {
    for (let round = 0; round < 5; round++) {
      const outcomes = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          send(url, 'GET', `/kv/${bigKeys[i % 4]!}?raw`, undefined, NO_ANSWER_MS),
        ),
      );
      t.ok(
        outcomes.every((o) => isClearAnswer(o)),
        `round ${round}: ${tally(outcomes)}`,
      );
    }
    rss.push(peakRss(pid));
  });

  for (const seed of SEEDS) {
    await t.test(`a random mix, seed ${seed}`, async (t) => {
      const mix = await randomMix(url, {
        requests: 1500,
        concurrency: 96,
        seed,
        maxValueBytes: MiB,
        noAnswerMs: NO_ANSWER_MS,
        readKeys: [...bigKeys, ...smallKeys.slice(0, 60)],
      });
      t.same(mix.unclear.slice(0, 5), [], `seed ${seed}: ${tally(mix.outcomes)}`);
      t.same(
        await lostWrites(url, mix.acknowledged, NO_ANSWER_MS),
        [],
        `seed ${seed}: no acknowledged write lost`,
      );
      for (const length of mix.acknowledged.values()) storedBytes += length;
      rss.push(peakRss(pid));
    });
  }

  t.comment(`peak RSS after each phase (MiB): ${rss.map((b) => Math.round(b / MiB)).join(', ')}`);
  const peak = peakRss(pid);
  const bound = TRANSIENT_BOUND + 3 * storedBytes;
  t.ok(
    peak < bound,
    `peak RSS ${Math.round(peak / MiB)} MiB < ${Math.round(bound / MiB)} MiB (2 GiB + three times the ${Math.round(storedBytes / MiB)} MiB stored)`,
  );
  const started = Date.now();
  t.same(await daemon.stop('SIGTERM'), { code: 0, signal: null });
  t.ok(Date.now() - started < 5000, `SIGTERM took ${Date.now() - started} ms`);
});
