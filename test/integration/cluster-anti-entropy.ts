/**
 * Anti-entropy between real daemons on 127.0.0.1 (docs/convergence.md): two diverged nodes converge
 * with no client read; a restarted node that missed writes moves about those writes, not its whole
 * data, and the same node, once away longer than the grace period, refuses to start; collected
 * tombstones stay collected (nothing comes back).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { type DaemonProcess, startDaemon } from '../fixtures/daemon-process.js';
import { request } from '../fixtures/http-client.js';

function addressOf(daemon: DaemonProcess): string {
  const line = daemon.lines.find((l) => l.includes('lally listening on'));
  return (JSON.parse(line ?? '{}') as { address?: string }).address ?? '';
}

async function batch(daemon: DaemonProcess, ops: unknown[]): Promise<void> {
  for (let i = 0; i < ops.length; i += 500) {
    const answer = await request(`${daemon.url}/batch`, {
      method: 'POST',
      body: JSON.stringify({ ops: ops.slice(i, i + 500) }),
    });
    if (answer.status !== 200) throw new Error(`batch: ${answer.status} ${answer.text}`);
  }
}

/** Values at read quorum 1: each node's own data (no read repair). */
async function values(daemon: DaemonProcess, keys: readonly string[]): Promise<(string | null)[]> {
  const out: (string | null)[] = [];
  for (let i = 0; i < keys.length; i += 500) {
    const ops = keys.slice(i, i + 500).map((key) => ({ op: 'get', key }));
    const answer = await request(`${daemon.url}/batch`, { method: 'POST', body: JSON.stringify({ ops }) });
    const results = answer.json<{ results: { found: boolean; value: string | null }[] }>().results;
    out.push(...results.map((r) => (r.found ? r.value : null)));
  }
  return out;
}

interface Stats {
  totals: { keys: number; tombstones: number };
  shards: { tombstonesCollected: number }[];
  replication?: { antiEntropy?: Record<string, number> };
}

async function stats(daemon: DaemonProcess): Promise<Stats> {
  return (await request(`${daemon.url}/stats`)).json() as Stats;
}

async function within(limitMs: number, what: string, check: () => Promise<boolean>): Promise<void> {
  const started = Date.now();
  for (;;) {
    if (await check()) return;
    if (Date.now() - started > limitMs) throw new Error(`${what}: not within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const keys = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}:${i}`);
const fast = ['--anti-entropy-interval-ms', '200'];

t.test('two diverged nodes converge by anti-entropy, with no client read', async (t) => {
  // B sends nothing to A: its writes and deletes reach A only by anti-entropy.
  const a = await startDaemon(t, { shards: 1, args: [...fast, '--hint-max-bytes', '0'] });
  const b = await startDaemon(t, {
    shards: 2,
    args: [...fast, '--seed-node', addressOf(a)],
    env: { LALLY_FAULT_DROP_REPLICATION: '1' },
  });
  const shared = keys(300, 'shared');
  await batch(
    a,
    shared.map((key) => ({ op: 'put', key, value: `a-${key}` })),
  );
  await within(5000, 'B has A writes', async () => (await stats(b)).totals.keys === 300);
  const onlyB = keys(200, 'b');
  await batch(b, [
    ...onlyB.map((key) => ({ op: 'put', key, value: `b-${key}` })),
    ...shared.slice(0, 20).map((key) => ({ op: 'remove', key })),
    ...shared.slice(20, 40).map((key) => ({ op: 'put', key, value: 'newer' })),
  ]);
  const expected = [
    ...onlyB.map((key) => `b-${key}`),
    ...shared.map((key, i) => (i < 20 ? null : i < 40 ? 'newer' : `a-${key}`)),
  ];
  const all = [...onlyB, ...shared];
  await within(8000, 'A agrees with B', async () => {
    const got = await values(a, all);
    return got.every((v, i) => v === expected[i]);
  });
  t.same(await values(a, all), expected, "A holds B's writes and deletes, read locally");
  // GET /stats carries the main thread's figures as of its last refresh (at most 1 s old).
  let figures: Record<string, number> = {};
  let fromB: Record<string, number> = {};
  const moved = () => (figures.keysReceived ?? 0) + (fromB.keysSent ?? 0);
  await within(3000, 'the figures show the repairs', async () => {
    figures = (await stats(a)).replication?.antiEntropy ?? {};
    fromB = (await stats(b)).replication?.antiEntropy ?? {};
    return moved() >= 240;
  });
  t.ok((figures.rounds ?? 0) > 0, `A ran rounds (${figures.rounds})`);
  t.equal(moved(), 240, 'exactly the 240 differing keys were moved (received by A or pushed by B)');
  t.ok((figures.roundsInSync ?? 0) + (fromB.roundsInSync ?? 0) > 0, 'later rounds find the trees equal');
});

t.test('a restarted node that missed writes moves about those writes, not all its keys', async (t) => {
  // No hints on A: B's missed writes can reach it only through its catch-up.
  const a = await startDaemon(t, { shards: 2, args: ['--hint-max-bytes', '0'] });
  // fsync always on B: the SIGKILL below must lose none of what it holds (everysec would lose up to
  // a second of writes, which its catch-up would then bring back too).
  const b = await startDaemon(t, { shards: 2, args: ['--seed-node', addressOf(a), '--aof-fsync', 'always'] });
  const all = keys(3000, 'user');
  await batch(
    a,
    all.map((key) => ({ op: 'put', key, value: `v-${key}` })),
  );
  await within(5000, 'B has the 3000 keys', async () => (await stats(b)).totals.keys === 3000);
  const grpcPort = addressOf(b).split(':')[1]!;
  await b.stop('SIGKILL');
  const missed = keys(25, 'missed');
  await batch(a, [
    ...missed.map((key) => ({ op: 'put', key, value: `m-${key}` })),
    { op: 'remove', key: 'user:1' },
    { op: 'put', key: 'user:2', value: 'changed' },
  ]);
  const b2 = await startDaemon(t, { shards: 2, dataDir: b.dataDir, args: ['--grpc-port', grpcPort] });
  const line = b2.lines.find((l) => l.includes('caught up by anti-entropy'));
  t.ok(line, 'B caught up by anti-entropy, not by a full transfer');
  t.comment(line ?? b2.lines.join('\n'));
  const summary = JSON.parse(line ?? '{}') as { pulled?: number; pushed?: number; held?: number };
  t.equal(summary.pulled, 27, 'it received the 27 records it missed (25 writes, a delete, an overwrite)');
  t.equal(summary.pushed, 0, 'and sent nothing');
  t.equal(summary.held, 3000, 'out of the 3000 it held');
  t.same(
    await values(b2, [...missed, 'user:1', 'user:2', 'user:3']),
    [...missed.map((key) => `m-${key}`), null, 'changed', 'v-user:3'],
    'and serves them once ready',
  );

  // The rejoin rule: the same node, last up (by its data dir) longer ago than the grace period.
  t.equal((await b2.stop('SIGTERM')).code, 0, 'B stops');
  const elevenDays = Date.now() - 11 * 86_400_000;
  await writeFile(join(b.dataDir, 'last-seen'), `${new Date(elevenDays).toISOString()} ${elevenDays}\n`);
  const again = await startDaemon(t, {
    shards: 2,
    dataDir: b.dataDir,
    args: ['--grpc-port', grpcPort],
    waitFor: /tombstone grace/,
  }).catch((error: unknown) => error as Error);
  const text = again instanceof Error ? again.message : again.lines.join('\n');
  t.match(text, /longer than the tombstone grace period/, 'away 11 days: it refuses to start, and says why');
  t.match(text, /Wipe its data directory/, 'and what to do');
  if (!(again instanceof Error)) t.equal((await again.exited).code, 2, 'exit code 2');
});

t.test('collected tombstones do not come back', async (t) => {
  // A drops its replication: its deletes reach B by anti-entropy only (rounds every 200 ms), well
  // within the 3 s grace.
  const grace = ['--tombstone-grace-ms', '3000'];
  const b = await startDaemon(t, { shards: 1, args: [...fast, ...grace] });
  const a = await startDaemon(t, {
    shards: 2,
    args: [...fast, ...grace, '--seed-node', addressOf(b)],
    env: { LALLY_FAULT_DROP_REPLICATION: '1' },
  });
  const doomed = keys(50, 'doomed');
  await batch(
    b,
    doomed.map((key) => ({ op: 'put', key, value: 'x' })),
  );
  await within(5000, 'A has them', async () => (await stats(a)).totals.keys === 50);
  await batch(
    a,
    doomed.map((key) => ({ op: 'remove', key })),
  );
  await within(9000, 'the tombstones are collected on both', async () => {
    const [sa, sb] = await Promise.all([stats(a), stats(b)]);
    const collected = (s: Stats) => s.shards.reduce((n, shard) => n + shard.tombstonesCollected, 0);
    return collected(sa) === 50 && collected(sb) === 50 && sa.totals.tombstones + sb.totals.tombstones === 0;
  });
  // Several anti-entropy rounds later, nothing has come back on either node.
  await new Promise((r) => setTimeout(r, 1200));
  for (const node of [a, b]) {
    t.same(
      await values(node, doomed),
      doomed.map(() => null),
      'no deleted key is back',
    );
    t.equal((await stats(node)).totals.keys + (await stats(node)).totals.tombstones, 0, 'the store is empty');
  }
});
