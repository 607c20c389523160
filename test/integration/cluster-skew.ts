/**
 * The clock-skew bound between real daemons. B's clock runs 120 s ahead (LALLY_FAULT_CLOCK_OFFSET_MS,
 * the fault suite's setting), twice A's max_clock_skew_ms of 60 s: A refuses B's replicated writes,
 * says so naming B, and counts them; B's writes stay partial at write quorum 2 and A's data is not
 * dragged 120 s into the future. The other way, A's writes reach B (they are behind B's clock, which
 * the guard allows).
 */
import t from 'tap';
import { type DaemonProcess, startDaemon } from '../fixtures/daemon-process.js';
import { request } from '../fixtures/http-client.js';

function addressOf(daemon: DaemonProcess): string {
  const line = daemon.lines.find((l) => l.includes('lally listening on'));
  return (JSON.parse(line ?? '{}') as { address?: string }).address ?? '';
}

async function within(limitMs: number, what: string, check: () => Promise<boolean>): Promise<void> {
  const started = Date.now();
  for (;;) {
    if (await check()) return;
    if (Date.now() - started > limitMs) throw new Error(`${what}: not within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Answer {
  status: string;
  quorum: { achieved: number };
  timestamp: string | null;
  value?: string | null;
}

const ARGS = ['--write-quorum', '2', '--quorum-timeout-ms', '500', '--max-clock-skew-ms', '60000'];

t.test('a peer stamping beyond max_clock_skew_ms is refused, named and counted', async (t) => {
  const a = await startDaemon(t, { shards: 1, args: ARGS });
  const b = await startDaemon(t, {
    shards: 1,
    args: ['--seed-node', addressOf(a), ...ARGS],
    env: { LALLY_FAULT_CLOCK_OFFSET_MS: '120000' },
  });
  t.ok(
    b.lines.some((l) => l.includes('LALLY_FAULT_CLOCK_OFFSET_MS') && l.includes('120000')),
    'the skewed node warns that it runs off the real clock',
  );
  await within(8000, 'the two nodes see each other', async () => {
    const nodes = (await request(`${a.url}/nodes`)).json() as { nodes: string[] };
    return nodes.nodes.length === 1;
  });

  const before = Date.now();
  const fromB = (await request(`${b.url}/kv/skewed`, { method: 'PUT', body: 'from-b' })).json() as Answer;
  t.equal(fromB.status, 'partial', 'B alone holds its write');
  t.equal(fromB.quorum.achieved, 1);
  t.ok(Date.parse(fromB.timestamp!) >= before + 119_000, 'stamped two minutes ahead');
  const onA = (await request(`${a.url}/kv/skewed`)).json() as Answer;
  t.equal(onA.value ?? null, null, 'A did not take it');

  // The peer is named by the address its connection comes from (B's loopback address here).
  await within(3000, 'A logs the refusal naming the peer', async () =>
    a.lines.some((l) => /refused replicated writes from 127\.0\.0\.1:\d+: stamped \d+ ms ahead/.test(l)),
  );
  // The shards' copy of the replication figures is refreshed every second.
  await within(3000, 'counted in /stats', async () => {
    const stats = (await request(`${a.url}/stats`)).json() as {
      replication?: { clockSkew?: { refusedRecords: number } };
    };
    return (stats.replication?.clockSkew?.refusedRecords ?? 0) >= 1;
  });

  const fromA = (await request(`${a.url}/kv/plain`, { method: 'PUT', body: 'from-a' })).json() as Answer;
  t.equal(fromA.status, 'success', "A's write, behind B's clock, reaches B");
  const plainOnB = (await request(`${b.url}/kv/plain`)).json() as Answer;
  t.equal(plainOnB.value, 'from-a');
  const later = (await request(`${a.url}/kv/later`, { method: 'PUT', body: 'x' })).json() as Answer;
  t.ok(Date.parse(later.timestamp!) < Date.now() + 5000, "A's clock was not dragged ahead");
});
