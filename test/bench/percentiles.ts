import t from 'tap';
import { median, percentile, ratio, summarize } from '../../bench/stats/percentiles.js';

t.test('nearest-rank percentiles', async (t) => {
  const sorted = Array.from({ length: 1000 }, (_, i) => i + 1); // 1..1000
  t.equal(percentile(sorted, 50), 500);
  t.equal(percentile(sorted, 99), 990);
  t.equal(percentile(sorted, 99.9), 999);
  t.equal(percentile(sorted, 100), 1000);
  t.equal(percentile(sorted, 0), 1);
  t.equal(percentile([5], 99.9), 5, 'one sample is every percentile');
  t.equal(percentile([1, 2, 3, 4], 50), 2, 'the sample at rank ceil(p n), not an interpolation');
  t.ok(Number.isNaN(percentile([], 50)));
});

t.test('summarize sorts a copy and reports p50/p99/p99.9, max and mean', async (t) => {
  const samples = [3, 1, 2, 100, 4];
  const s = summarize(samples);
  t.same(samples, [3, 1, 2, 100, 4], 'input untouched');
  t.equal(s.p50, 3);
  t.equal(s.p99, 100);
  t.equal(s.p999, 100);
  t.equal(s.max, 100);
  t.equal(s.mean, 22);
});

t.test('median', async (t) => {
  t.equal(median([3, 1, 2]), 2);
  t.equal(median([4, 1, 3, 2]), 2.5);
  t.ok(Number.isNaN(median([])));
});

t.test('ratio to the ceiling', async (t) => {
  t.equal(ratio(90, 100), 0.9);
  t.equal(ratio(2, 3), 0.667, 'rounded to 3 decimals');
  t.equal(ratio(150, 100), 1.5);
  t.equal(ratio(1, 0), null, 'no ceiling: no ratio');
  t.equal(ratio(null, 100), null);
  t.equal(ratio(1, undefined), null);
  t.equal(ratio(Number.NaN, 100), null);
});
