/** The fault suite's checkers on hand-made operation logs and final states. */
import t from 'tap';
import {
  availability,
  checkDeletes,
  checkLww,
  checkReadYourWrites,
  checkUniqueKeys,
  type NodeValue,
} from '../../chaos/checkers.js';
import { nodeValueOf } from '../../chaos/convergence.js';
import type { OpRecord } from '../../chaos/workloads.js';

const op = (over: Partial<OpRecord>): OpRecord => ({
  workload: 'unique',
  kind: 'put',
  key: 'k',
  node: 0,
  phase: 'fault',
  startMs: 100,
  endMs: 110,
  outcome: 'success',
  achieved: 2,
  required: 2,
  ...over,
});
const has = (value: string, timestamp = '2026-01-01T00:00:00.000Z'): NodeValue => ({
  found: true,
  value,
  timestamp,
});
const none: NodeValue = { found: false, value: null, timestamp: null };
const time = { faultAtMs: 1000, healedAtMs: 5000, settleMs: 500 };

t.test('unique keys: lost everywhere, missing on some, unacknowledged and refused', async (t) => {
  const ops = [
    op({ key: 'a', value: 'va', endMs: 100, phase: 'before' }),
    op({ key: 'b', value: 'vb' }),
    op({ key: 'c', value: 'vc', outcome: 'partial', achieved: 1, endMs: 5200, phase: 'healed' }),
    op({ key: 'd', value: 'vd', outcome: 'timeout', achieved: undefined }),
    op({ key: 'e', value: 've', outcome: 'refused', achieved: undefined }),
    op({ key: 'f', value: 'vf', outcome: 'partial', achieved: 0 }),
    op({ key: 'g', value: 'vg' }),
  ];
  const final = new Map([
    ['a', [has('va'), has('va'), none]],
    ['b', [none, none, none]],
    ['c', [has('vc'), undefined, none]],
    ['d', [has('vd'), none, none]],
    ['e', [has('ve'), none, none]],
    ['f', [none, none, none]],
    ['g', [undefined, undefined, undefined]],
  ]);
  const r = checkUniqueKeys(ops, final, time);
  t.match(r, {
    writes: 7,
    acknowledged: 4,
    quorumAcknowledged: 3,
    unread: 1,
    indeterminate: 2,
    refused: 1,
    lostEverywhere: 1,
    lostEverywhereQuorum: 1,
    missingOnSome: 2,
    unacknowledgedPresent: 1,
    refusedPresent: 1,
    missingOnSomeSettled: 1,
    settledAcknowledged: 3,
    lastMissingAfterHealMs: 200,
  });
  t.same(r.missingOnSomeByPhase, { setup: 0, before: 1, fault: 0, healed: 1 });
});

t.test('LWW registers: the newest acknowledged timestamp must survive', async (t) => {
  const ts = (ms: number) => new Date(ms).toISOString();
  const ops = [
    op({ workload: 'lww', key: 'r1', value: 'x1', timestamp: ts(1000) }),
    op({ workload: 'lww', key: 'r1', value: 'x2', timestamp: ts(2000) }),
    op({ workload: 'lww', key: 'r2', value: 'y1', timestamp: ts(1000) }),
    op({
      workload: 'lww',
      key: 'r2',
      value: 'y2',
      timestamp: ts(3000),
      outcome: 'timeout',
      achieved: undefined,
    }),
    op({ workload: 'lww', key: 'r3', value: 'z1', timestamp: ts(1000) }),
  ];
  const final = new Map([
    ['r1', [has('x1', ts(1000)), has('x1', ts(1000))]],
    ['r2', [has('y2', ts(3000)), has('y1', ts(1000))]],
    ['r3', [has('z1', ts(1000)), has('evil', ts(9000))]],
  ]);
  t.match(checkLww(ops, final), {
    registers: 3,
    writes: 5,
    acknowledged: 4,
    divergent: 2,
    lostUpdateEverywhere: 1,
    staleOnSome: 0,
    foreignValue: 1,
  });
});

t.test('registers: a value written wholly before the last acknowledged write, surviving it', async (t) => {
  const ts = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms).toISOString();
  const lww = (key: string, value: string, startMs: number, stamp: number, over: Partial<OpRecord> = {}) =>
    op({ workload: 'lww', key, value, startMs, endMs: startMs + 10, timestamp: ts(stamp), ...over });
  const ops = [
    // a1 through a node whose clock runs 30 s ahead, then a2 a second later elsewhere: a1 survives.
    lww('a', 'a1', 1000, 31_000),
    lww('a', 'a2', 2000, 2000),
    // Overlapping in time (b2 starts before b1 ended): either may win, not counted.
    lww('b', 'b1', 1000, 31_000),
    lww('b', 'b2', 1005, 1005),
    // The last write survives: not counted.
    lww('c', 'c1', 1000, 1000),
    lww('c', 'c2', 2000, 2000),
    // The later write was not acknowledged: it need not survive.
    lww('d', 'd1', 1000, 31_000),
    lww('d', 'd2', 2000, 2000, { outcome: 'timeout', achieved: undefined }),
  ];
  const final = new Map([
    ['a', [has('a1', ts(31_000)), has('a1', ts(31_000))]],
    ['b', [has('b1', ts(31_000))]],
    ['c', [has('c2', ts(2000)), has('c1', ts(1000))]],
    ['d', [has('d1', ts(31_000))]],
  ]);
  const r = checkLww(ops, final);
  t.equal(r.overwrittenByEarlier, 1, 'only register a');
  t.equal(r.lostUpdateEverywhere, 0, 'by versions nothing is lost: a1 is the newest stamp');
});

t.test('deletes: resurrected everywhere or on some nodes', async (t) => {
  const ops = [
    op({ workload: 'delete', key: 'd1', value: 'g', phase: 'setup' }),
    op({ workload: 'delete', kind: 'delete', key: 'd1' }),
    op({ workload: 'delete', kind: 'delete', key: 'd2' }),
    op({ workload: 'delete', kind: 'delete', key: 'd3' }),
    op({ workload: 'delete', kind: 'delete', key: 'd4', outcome: 'timeout', achieved: undefined }),
  ];
  const final = new Map([
    ['d1', [none, none]],
    ['d2', [has('g'), has('g')]],
    ['d3', [has('g'), none]],
    ['d4', [has('g'), has('g')]],
  ]);
  t.same(checkDeletes(ops, final), {
    keys: 4,
    deletesAcknowledged: 3,
    resurrectedEverywhere: 1,
    resurrectedOnSome: 1,
  });
});

t.test('read your writes: only reads after a quorum write, answered at quorum, are covered', async (t) => {
  const read = (over: Partial<OpRecord>) =>
    op({ workload: 'ryw', kind: 'get', expected: 'v', writeMet: true, ...over });
  const ops = [
    read({ value: 'v' }),
    read({ value: 'old' }),
    read({ value: null, writeMet: false }),
    read({ value: 'old', outcome: 'partial' }),
    read({ value: 'v', outcome: 'timeout' }),
  ];
  t.same(checkReadYourWrites(ops, true), {
    applicable: true,
    pairs: 4,
    covered: 2,
    violations: 1,
    uncoveredStale: 2,
  });
});

t.test('availability per phase, with and without the faulted node', async (t) => {
  const ops = [
    op({ node: 0 }),
    op({ node: 2, outcome: 'refused' }),
    op({ node: 1, outcome: 'partial' }),
    op({ node: 1, outcome: 'timeout' }),
    op({ node: 0, phase: 'before' }),
  ];
  const a = availability(ops, [2]);
  t.match(a.fault, { requests: 4, success: 1, partial: 1, timeout: 1, refused: 1, available: 0.5 });
  t.equal(a.fault.availableElsewhere, 2 / 3);
  t.equal(a.before.available, 1);
  t.same(a.healed.requests, 0);
});

t.test('a final read is evidence only when it met its quorum or found a value', async (t) => {
  const item = (status: string, value: string | null) => ({ status, key: 'k', value, timestamp: null });
  t.same(nodeValueOf(item('success', null)), { found: false, value: null, timestamp: null });
  t.same(nodeValueOf(item('partial', 'v')), { found: true, value: 'v', timestamp: null });
  t.equal(nodeValueOf(item('partial', null)), undefined, 'a partial miss proves nothing');
  t.equal(nodeValueOf(item('error', null)), undefined);
  t.equal(nodeValueOf(undefined), undefined);
});
