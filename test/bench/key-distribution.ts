import t from 'tap';
import {
  fixedValue,
  keyName,
  keySource,
  scatterIndex,
  seededRandom,
  ZIPF_THETA,
  zipfKeys,
} from '../../bench/workload/key-distribution.js';

const draw = (source: () => number, n: number) => Array.from({ length: n }, source);

t.test('a seed gives the same sequence every time, another seed another one', async (t) => {
  t.same(draw(seededRandom(7), 100), draw(seededRandom(7), 100));
  t.not(draw(seededRandom(7), 10).join(), draw(seededRandom(8), 10).join());
  t.same(draw(keySource('zipf', 1000, 42), 500), draw(keySource('zipf', 1000, 42), 500));
  t.same(draw(keySource('uniform', 1000, 42), 500), draw(keySource('uniform', 1000, 42), 500));
  const r = draw(seededRandom(1), 10_000);
  t.ok(
    r.every((x) => x >= 0 && x < 1),
    'random numbers lie in [0, 1)',
  );
});

t.test('Zipf: rank 0 is hottest, frequencies fall with rank, and the head matches the theory', async (t) => {
  const n = 1000;
  const draws = 200_000;
  const counts = new Array<number>(n).fill(0);
  const source = zipfKeys(n, seededRandom(3));
  let outOfRange = 0;
  for (let i = 0; i < draws; i++) {
    const k = source();
    if (k >= 0 && k < n) counts[k]!++;
    else outOfRange++;
  }
  t.equal(outOfRange, 0, 'every index in [0, n)');
  let zeta = 0;
  for (let i = 1; i <= n; i++) zeta += 1 / i ** ZIPF_THETA;
  const expectedTop = 1 / zeta;
  const top = counts[0]! / draws;
  t.ok(Math.abs(top - expectedTop) < 0.01, `share of rank 0 ${top.toFixed(4)} ~ ${expectedTop.toFixed(4)}`);
  t.ok(counts[0]! > counts[1]! && counts[1]! > counts[9]! && counts[9]! > counts[99]!, 'falls with rank');
  const head = counts.slice(0, n / 100).reduce((a, b) => a + b, 0) / draws;
  t.ok(head > 0.3, `the hottest 1% of keys take ${Math.round(head * 100)}% of the draws`);
});

t.test('uniform keys are roughly flat', async (t) => {
  const n = 100;
  const counts = new Array<number>(n).fill(0);
  const source = keySource('uniform', n, 9);
  for (let i = 0; i < 100_000; i++) counts[source()]!++;
  t.ok(
    Math.max(...counts) < 1.2 * 1000 && Math.min(...counts) > 0.8 * 1000,
    'every key within 20% of the mean',
  );
});

t.test('scatterIndex is a permutation of [0, n)', async (t) => {
  for (const n of [1, 2, 3, 1000, 1024, 100_000]) {
    const seen = new Set<number>();
    for (let i = 0; i < n; i++) seen.add(scatterIndex(i, n));
    t.equal(seen.size, n, `n = ${n}`);
    t.ok([...seen].every((x) => x >= 0 && x < n));
  }
});

t.test('keys are 16 bytes, values exactly the size asked', async (t) => {
  t.equal(keyName(0), 'key-000000000000');
  t.equal(Buffer.byteLength(keyName(999_999)), 16);
  for (const bytes of [0, 16, 1024, 65_536]) t.equal(Buffer.byteLength(fixedValue(bytes)), bytes);
});
