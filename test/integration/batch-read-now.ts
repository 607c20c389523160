/**
 * A daemon's /batch answers, now that its GETs are read at once (the own shard's store, or the other
 * shard's table across threads), against a model of what the batches wrote: random batches of both
 * shards' keys, escapes and non-ASCII, PUT then GET of one key in a batch, over fresh connections (the
 * kernel spreads them over the shards). test/http/batch-read-now.ts compares the two paths' bytes.
 */
import t from 'tap';
import { shardOfKey } from '../../src/hash/key-hash.js';
import { request, startDaemon } from '../fixtures/daemon-process.js';
import { seededRandom } from '../fixtures/seeded-random.js';

const SHARDS = 2;

interface Item {
  op: string;
  status: string;
  key: string;
  found: boolean;
  value: string | null;
  timestamp: string | null;
}

const KEYS = [
  ...Array.from({ length: 16 }, (_, i) => `k${i}`),
  'ü-key',
  'clé 🔑',
  'quote"key',
  'back\\slash',
  'x'.repeat(100),
  'never-written',
];
const VALUES = [
  '',
  'v',
  'plain ~ value',
  'b'.repeat(65),
  'c'.repeat(3000),
  'välue',
  '🔑',
  'q " \\ \n \u0001',
];

t.test("batches read what earlier operations wrote, on either shard's keys", async (t) => {
  t.ok(new Set(KEYS.map((key) => shardOfKey(key, SHARDS))).size === SHARDS, 'keys of both shards');
  const daemon = await startDaemon(t, { shards: SHARDS, args: ['--no-aof'] });
  const model = new Map<string, string>();
  const random = seededRandom(7);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  let checked = 0;
  for (let round = 0; round < 150; round++) {
    const ops: { op: string; key: string; value?: string }[] = [];
    const count = 1 + Math.floor(random() * 30);
    for (let i = 0; i < count; i++) {
      const key = pick(KEYS);
      const roll = random();
      if (roll < 0.6) ops.push({ op: 'get', key });
      else if (roll < 0.85) {
        ops.push({ op: 'put', key, value: pick(VALUES) });
        if (random() < 0.5) ops.push({ op: 'get', key });
      } else ops.push({ op: 'remove', key });
    }
    const answer = await request(`${daemon.url}/batch`, { method: 'POST', body: JSON.stringify({ ops }) });
    if (answer.status !== 200) {
      t.fail(`round ${round}: status ${answer.status}`, { text: answer.text });
      return;
    }
    const { results } = answer.json<{ results: Item[] }>();
    for (let i = 0; i < ops.length; i++) {
      const { op, key, value } = ops[i]!;
      const before = model.get(key);
      const expected =
        op === 'put'
          ? { found: true, value: value! }
          : { found: before !== undefined, value: before ?? null };
      if (op === 'put') model.set(key, value!);
      if (op === 'remove') model.delete(key);
      const item = results[i]!;
      const same =
        item.op === op &&
        item.status === 'success' &&
        item.key === key &&
        item.found === expected.found &&
        item.value === expected.value &&
        (item.timestamp !== null) === expected.found;
      if (!same) {
        t.fail(`round ${round}, item ${i}`, { op: ops[i], item, expected });
        return;
      }
      checked++;
    }
  }
  t.ok(checked > 1000, `${checked} items as the model says`);
});
