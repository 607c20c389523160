import t from 'tap';
import { emptyHopHeader, HOP_HEADER_BYTES } from '../../src/hop/hop-messages.js';
import {
  decodeNodeHashes,
  decodeTreeList,
  decodeTreeRequest,
  encodeNodeHashes,
  encodeTreeRequest,
  LEAF_MASK_BYTES,
  TreeListWriter,
  TreeMode,
} from '../../src/hop/tree-messages.js';

/** A hop message around `value`, as the ring delivers it. */
function hop(value: Uint8Array) {
  const message = new Uint8Array(HOP_HEADER_BYTES + value.length);
  message.set(value, HOP_HEADER_BYTES);
  return { message, header: { ...emptyHopHeader(), valueLength: value.length } };
}

t.test('TREE requests round-trip, a range may end at 2^32', (t) => {
  const ranges = [
    { start: 0, end: 1000 },
    { start: 5000, end: 2 ** 32 },
  ];
  const nodes = encodeTreeRequest({ mode: TreeMode.NODES, round: 7, ranges, level: 3, nodes: [0, 4095] });
  const a = hop(nodes);
  t.same(decodeTreeRequest(a.message, a.header), { mode: 1, round: 7, ranges, level: 3, nodes: [0, 4095] });
  const leaves = new Uint8Array(LEAF_MASK_BYTES);
  leaves[3] = 0b101;
  const list = encodeTreeRequest({
    mode: TreeMode.LIST,
    round: 9,
    ranges,
    session: 4,
    maxBytes: 9999,
    leaves,
  });
  const b = hop(list);
  const decoded = decodeTreeRequest(b.message, b.header);
  t.match(decoded, { mode: 2, round: 9, ranges, session: 4, maxBytes: 9999 });
  t.same([...(decoded as { leaves: Uint8Array }).leaves.subarray(0, 5)], [0, 0, 0, 5, 0]);
  const filtered = encodeTreeRequest({
    mode: TreeMode.PRINTS,
    round: 1,
    ranges,
    session: 0,
    maxBytes: 4096,
    leaves,
    keyHashes: Uint32Array.from([3, 9, 0xffffffff]),
  });
  const c = hop(filtered);
  t.same(
    [...((decodeTreeRequest(c.message, c.header) as { keyHashes: Uint32Array }).keyHashes ?? [])],
    [3, 9, 0xffffffff],
  );
  const short = hop(list.subarray(0, 20));
  t.equal(decodeTreeRequest(short.message, short.header), undefined, 'a truncated request is refused');
  t.end();
});

t.test('node hashes and leaf listings round-trip', (t) => {
  const lanes = new Uint32Array([1, 0xffffffff, 0, 42]);
  t.same([...decodeNodeHashes(encodeNodeHashes(lanes))], [...lanes]);
  const writer = new TreeListWriter(1 << 20);
  writer.add('key', 2 ** 41 + 5, 3, 0xfffffffe, false);
  writer.add('ключ', 1, 0, 1, true);
  t.same(decodeTreeList(writer.finish(12)), {
    next: 12,
    entries: [
      { key: 'key', wall: 2 ** 41 + 5, counter: 3, node: 0xfffffffe, tombstone: false },
      { key: 'ключ', wall: 1, counter: 0, node: 1, tombstone: true },
    ],
  });
  t.end();
});
