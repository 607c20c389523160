/**
 * Hinted handoff between real daemons: a replica that is alive but unreachable (SIGSTOP: a paused
 * process, whose connections stay open and silent) misses writes at write quorum 1; the coordinator
 * keeps them as hints and hands them over once the replica answers again (SIGCONT), without any read
 * of those keys. The hints are on disk: the coordinator is killed with them pending and delivers them
 * after its restart. (Nothing else brings the keys to C here: no read repair at read quorum 1, and B
 * sends C nothing of writes it did not coordinate.)
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { type DaemonProcess, startDaemon } from '../fixtures/daemon-process.js';
import { request } from '../fixtures/http-client.js';

interface HintStats {
  queued: number;
  delivered: number;
  dropped: number;
  bytes: number;
  durable: boolean;
}

function addressOf(daemon: DaemonProcess): string {
  const line = daemon.lines.find((l) => l.includes('lally listening on'));
  return (JSON.parse(line ?? '{}') as { address?: string }).address ?? '';
}

async function hints(daemon: DaemonProcess): Promise<HintStats | undefined> {
  const stats = (await request(`${daemon.url}/stats`)).json() as { replication?: { hints?: HintStats } };
  return stats.replication?.hints;
}

async function storedKeys(daemon: DaemonProcess): Promise<number> {
  return ((await request(`${daemon.url}/stats`)).json() as { totals: { keys: number } }).totals.keys;
}

async function within(limitMs: number, what: string, check: () => Promise<boolean>): Promise<void> {
  const started = Date.now();
  for (;;) {
    if (await check()) return;
    if (Date.now() - started > limitMs) throw new Error(`${what}: not within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const ARGS = ['--write-quorum', '1', '--quorum-timeout-ms', '500'];

async function threeNodes(t: Test): Promise<DaemonProcess[]> {
  const a = await startDaemon(t, { shards: 1, args: ARGS });
  const [b, c] = await Promise.all(
    [0, 1].map(() => startDaemon(t, { shards: 1, args: ['--seed-node', addressOf(a), ...ARGS] })),
  );
  const nodes = [a, b!, c!];
  await within(8000, 'every node lists the others', async () => {
    const lists = await Promise.all(nodes.map((n) => request(`${n.url}/nodes`)));
    return lists.every((l) => ((l.json() as { nodes: string[] }).nodes ?? []).length === 2);
  });
  return nodes;
}

/** Pauses the node; the teardown resumes it (a stopped process ignores SIGTERM until resumed). */
function pause(t: Test, node: DaemonProcess): () => void {
  node.child.kill('SIGSTOP');
  let resumed = false;
  const resume = () => {
    if (!resumed) node.child.kill('SIGCONT');
    resumed = true;
  };
  t.teardown(resume);
  return resume;
}

async function writeKeys(node: DaemonProcess, prefix: string, count: number): Promise<void> {
  for (let i = 0; i < count; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, count - i) }, (_, j) =>
        request(`${node.url}/kv/${prefix}${i + j}`, { method: 'PUT', body: `v${i + j}` }),
      ),
    );
  }
}

async function checkValues(t: Test, node: DaemonProcess, prefix: string, count: number): Promise<void> {
  const answers = await Promise.all(
    Array.from({ length: count }, (_, i) => request(`${node.url}/kv/${prefix}${i}`)),
  );
  const wrong = answers.filter((a, i) => (a.json() as { value?: string }).value !== `v${i}`).length;
  t.equal(wrong, 0, `every ${prefix}* key has its value on the node (local reads)`);
}

t.test(
  'a paused replica gets the writes it missed once it answers again, after the hints outlive a kill -9',
  async (t) => {
    const [a, b, c] = await threeNodes(t);
    const resume = pause(t, c!);
    await writeKeys(a!, 'h', 200);
    // C stops answering probes: suspect, then dead; its stream is ended and what waited becomes hints.
    await within(15_000, "A holds a hint for each of C's 200 missed writes", async () => {
      const h = await hints(a!);
      return h !== undefined && h.queued === 200;
    });
    const before = await hints(a!);
    t.match(before, { queued: 200, delivered: 0, dropped: 0, durable: true }, 'hints in /stats');
    t.ok((before?.bytes ?? 0) > 200 * 30, `the hints' bytes are counted (${before?.bytes})`);
    t.equal(await storedKeys(b!), 200, 'B, reachable, got every write');

    // The hints are on disk, fsynced: a kill -9 of A loses none of them.
    const grpcPort = addressOf(a!).split(':').pop() ?? '';
    await a!.stop('SIGKILL');
    t.equal(readdirSync(join(a!.dataDir, 'hints')).length, 1, 'one hint file (for C) under the data dir');
    const a2 = await startDaemon(t, {
      shards: 1,
      dataDir: a!.dataDir,
      args: ['--grpc-port', grpcPort, ...ARGS],
    });
    await within(
      5000,
      'the restarted A has the 200 hints back',
      async () => (await hints(a2))?.queued === 200,
    );

    resume();
    await within(
      15_000,
      'C holds every key once it answers again',
      async () => (await storedKeys(c!)) === 200,
    );
    await checkValues(t, c!, 'h', 200);
    await within(3000, "A's hints are delivered and gone", async () => {
      const h = await hints(a2);
      return h?.queued === 0 && h.delivered === 200;
    });
    await within(
      3000,
      'the hint file is removed',
      async () => readdirSync(join(a!.dataDir, 'hints')).length === 0,
    );
  },
);
