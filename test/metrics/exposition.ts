import t from 'tap';
import { Exposition, snakeCase } from '../../src/metrics/exposition.js';
import { parsePrometheusText } from '../fixtures/prometheus-text.js';

t.test('families are written once, with HELP and TYPE, samples in order', async (t) => {
  const out = new Exposition();
  out.sample('a_total', 'counter', 'first', 1, { shard: 0 });
  out.sample('b', 'gauge', 'second', 2.5);
  out.sample('a_total', 'counter', 'ignored: the first help stays', 3, { shard: 1 });
  out.declare('empty_total', 'counter', 'no samples yet');
  t.equal(
    out.render(),
    '# HELP a_total first\n# TYPE a_total counter\na_total{shard="0"} 1\na_total{shard="1"} 3\n' +
      '# HELP b second\n# TYPE b gauge\nb 2.5\n' +
      '# HELP empty_total no samples yet\n# TYPE empty_total counter\n',
  );
});

t.test('label values and help are escaped; odd values are spelled as Prometheus does', async (t) => {
  const out = new Exposition();
  out.sample('x', 'gauge', 'a\\b\nc', Number.NaN, { peer: 'a"b\\c\nd' });
  out.sample('x', 'gauge', '', Number.POSITIVE_INFINITY, { peer: 'p' });
  out.sample('x', 'gauge', '', Number.NEGATIVE_INFINITY, { peer: 'q' });
  const text = out.render();
  t.match(text, '# HELP x a\\\\b\\nc\n');
  t.match(text, 'x{peer="a\\"b\\\\c\\nd"} NaN\n');
  const scrape = parsePrometheusText(text);
  t.equal(scrape.find('x', { peer: 'a"b\\c\nd' }).length, 1, 'the parser reads the escaped value back');
  t.equal(scrape.value('x', { peer: 'p' }), Number.POSITIVE_INFINITY);
  t.equal(scrape.value('x', { peer: 'q' }), Number.NEGATIVE_INFINITY);
});

t.test('a histogram is written cumulative, its count being the +Inf bucket', async (t) => {
  const out = new Exposition();
  out.histogram('h_seconds', 'latency', [0.1, 1], [2, 0, 1], 1.7, { route: 'kv' });
  const text = out.render();
  t.match(text, 'h_seconds_bucket{route="kv",le="0.1"} 2\n');
  t.match(text, 'h_seconds_bucket{route="kv",le="1"} 2\n');
  t.match(text, 'h_seconds_bucket{route="kv",le="+Inf"} 3\n');
  t.match(text, 'h_seconds_count{route="kv"} 3\n');
  const scrape = parsePrometheusText(text);
  t.equal(scrape.value('h_seconds_sum', { route: 'kv' }), 1.7);
});

t.test('a name is of one type', async (t) => {
  const out = new Exposition();
  out.sample('x', 'gauge', '', 1);
  t.throws(() => out.sample('x', 'counter', '', 1), /gauge, not a counter/);
});

t.test('snakeCase', async (t) => {
  t.equal(snakeCase('readRepairFailures'), 'read_repair_failures');
  t.equal(snakeCase('answerHighWaterBytes'), 'answer_high_water_bytes');
  t.equal(snakeCase('127.0.0.1:5'), '127_0_0_1_5');
});

t.test('the test parser refuses what Prometheus would', async (t) => {
  t.throws(() => parsePrometheusText('x 1\n'), /no declared family/);
  t.throws(() => parsePrometheusText('# TYPE x gauge\nx{a="1"} 1\nx{a="1"} 2\n'), /twice/);
  t.throws(() => parsePrometheusText('# TYPE x gauge\nx one\n'), /bad value/);
  t.throws(() => parsePrometheusText('# TYPE x gauge\nx{a=1} 1\n'), /bad labels/);
  t.throws(() => parsePrometheusText('# TYPE x wobbly\n'), /bad TYPE/);
  t.throws(
    () => parsePrometheusText('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1\n'),
    /cumulative/,
  );
  t.throws(() => parsePrometheusText('# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_count 1\n'), /_count/);
});
