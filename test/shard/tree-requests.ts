import t from 'tap';
import { HybridLogicalClock } from '../../src/clock/hlc.js';
import { hashKey } from '../../src/hash/key-hash.js';
import { emptyHopHeader, HOP_HEADER_BYTES } from '../../src/hop/hop-messages.js';
import {
  decodeNodeHashes,
  decodeTreeList,
  decodeTreePrints,
  encodeTreeRequest,
  LEAF_MASK_BYTES,
  TreeMode,
  type TreeRequest,
} from '../../src/hop/tree-messages.js';
import { placementOf } from '../../src/placement/placement.js';
import { ShardEngine } from '../../src/shard/shard-engine.js';
import { inRanges, TreeRequests } from '../../src/shard/tree-requests.js';
import { entryHash, hashOut } from '../../src/store/range-digest.js';
import { ShardStore } from '../../src/store/shard-store.js';

function ask(trees: TreeRequests, request: TreeRequest): Uint8Array {
  const value = encodeTreeRequest(request);
  const message = new Uint8Array(HOP_HEADER_BYTES + value.length);
  message.set(value, HOP_HEADER_BYTES);
  const answer = trees.answer(message, { ...emptyHopHeader(), valueLength: value.length });
  if (answer === undefined) throw new Error('refused');
  return answer;
}

const engine = new ShardEngine({
  shard: 0,
  store: new ShardStore(),
  clock: new HybridLogicalClock(5),
  wal: undefined,
});
for (let i = 0; i < 3000; i++) engine.put(`key:${i}`, `v${i}`);
for (let i = 0; i < 3000; i += 7) engine.remove(`key:${i}`);
const trees = new TreeRequests(engine);

/** The XOR of the entry hashes of every entry within `ranges`: what the root must be. */
function expectedRoot(ranges: { start: number; end: number }[]): [number, number] {
  let lo = 0;
  let hi = 0;
  for (const [key, e] of engine.store.entries()) {
    const h = hashKey(key);
    if (!inRanges(ranges, placementOf(h))) continue;
    entryHash(h, e.wall, e.counter, e.node, e.tombstone);
    lo = (lo ^ hashOut.lo) >>> 0;
    hi = (hi ^ hashOut.hi) >>> 0;
  }
  return [lo, hi];
}

t.test('the root over any ranges is the XOR of the entries within them, leaves cut or not', (t) => {
  for (const ranges of [
    [{ start: 0, end: 2 ** 32 }],
    [{ start: 12345, end: 2 ** 31 + 777 }],
    [
      { start: 100, end: 70000 },
      { start: 2 ** 30 + 5, end: 2 ** 30 + 9_000_000 },
      { start: 2 ** 32 - 3, end: 2 ** 32 },
    ],
  ]) {
    const root = decodeNodeHashes(
      ask(trees, { mode: TreeMode.NODES, round: ranges.length, ranges, level: 0, nodes: [0] }),
    );
    t.same([...root], expectedRoot(ranges), JSON.stringify(ranges));
  }
  t.end();
});

t.test('listings and fingerprints of some leaves, filtered by key hash', (t) => {
  const ranges = [{ start: 0, end: 2 ** 32 }];
  const leaves = new Uint8Array(LEAF_MASK_BYTES).fill(0xff);
  const prints = decodeTreePrints(
    ask(trees, { mode: TreeMode.PRINTS, round: 9, ranges, session: 0, maxBytes: 1 << 20, leaves }),
  );
  t.equal(prints.prints.length / 2, 3000, 'every entry, tombstones included');
  const wanted = Uint32Array.from([hashKey('key:1'), hashKey('key:7')].sort((a, b) => a - b));
  const list = decodeTreeList(
    ask(trees, {
      mode: TreeMode.LIST,
      round: 9,
      ranges,
      session: 0,
      maxBytes: 1 << 20,
      leaves,
      keyHashes: wanted,
    }),
  );
  t.same(list.entries.map((e) => [e.key, e.tombstone]).sort(), [
    ['key:1', false],
    ['key:7', true],
  ]);
  // Pages: a small bound gives a session to resume; all pages together hold every entry once.
  let session = 0;
  const keys = new Set<string>();
  do {
    const page = decodeTreeList(
      ask(trees, { mode: TreeMode.LIST, round: 9, ranges, session, maxBytes: 4096, leaves }),
    );
    for (const e of page.entries) keys.add(e.key);
    session = page.next;
  } while (session !== 0);
  t.equal(keys.size, 3000);
  t.end();
});
