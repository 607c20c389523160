import t from 'tap';
import { coerceValue, formatBytes, isUnset, parseBoolean, showRaw } from '../../src/config/coerce.js';
import { CONFIG_OPTIONS, type ConfigOption } from '../../src/config/options.js';

const base = { dir: '/base', home: '/home/u' };
const option = (key: string): ConfigOption => CONFIG_OPTIONS.find((o) => o.key === key)!;

t.test('isUnset', async (t) => {
  for (const raw of [null, undefined, '', ' ', '~', 'None', 'NONE', 'null', 'Null'])
    t.ok(isUnset(raw), String(raw));
  for (const raw of [0, false, 'none-such', 'x', []]) t.notOk(isUnset(raw), String(raw));
});

t.test('parseBoolean', async (t) => {
  t.same(['true', 'YES', 'on', '1', true].map(parseBoolean), [true, true, true, true, true]);
  t.same(['false', 'no', 'OFF', '0', false].map(parseBoolean), [false, false, false, false, false]);
  t.same(['maybe', 2, null].map(parseBoolean), [undefined, undefined, undefined]);
});

t.test('integers and sizes', async (t) => {
  const port = option('httpPort');
  t.same(coerceValue(port, '80', base), { ok: true, value: 80 });
  t.same(coerceValue(port, 80, base), { ok: true, value: 80 });
  t.same(coerceValue(port, ' 80 ', base), { ok: true, value: 80 });
  for (const bad of ['8k', '0x50', '80.0', 80.5, '', true, '1e3']) {
    t.same(coerceValue(port, bad, base), { ok: false, expected: 'an integer from 1 to 65535' }, String(bad));
  }
  const size = option('aofRewriteMinSize');
  const sizes: [string | number, number][] = [
    ['0', 0],
    [4096, 4096],
    ['8K', 8192],
    ['8kb', 8192],
    ['8KiB', 8192],
    ['64M', 64 * 1024 ** 2],
    ['1.5G', 1.5 * 1024 ** 3],
    ['100b', 100],
  ];
  for (const [raw, value] of sizes) t.same(coerceValue(size, raw, base), { ok: true, value }, String(raw));
  t.same(coerceValue(size, '-1', base), {
    ok: false,
    expected: 'a size in bytes (K, M, G suffixes allowed) at least 0',
  });
  t.same(coerceValue(size, '1.2345K', base).ok, false, 'fractional bytes');
});

t.test('paths and path lists', async (t) => {
  const dir = option('dataDir');
  t.same(coerceValue(dir, 'rel/d', base), { ok: true, value: '/base/rel/d' });
  t.same(coerceValue(dir, '/abs/../d', base), { ok: true, value: '/d' });
  t.same(coerceValue(dir, '~/d', base), { ok: true, value: '/home/u/d' });
  t.same(coerceValue(dir, 'file:///x/y', base), { ok: true, value: '/x/y' });
  const hooks = option('hooks');
  t.same(coerceValue(hooks, ['a.js', 'b.js,c.js'], base), {
    ok: true,
    value: ['/base/a.js', '/base/b.js', '/base/c.js'],
  });
  t.same(coerceValue(hooks, 'a.js,,', base), { ok: true, value: ['/base/a.js'] });
  t.same(coerceValue(hooks, [1, {}], base), { ok: false, expected: 'a list of module paths' });
});

t.test('formatBytes and showRaw', async (t) => {
  t.same([0, 1000, 1024, 1536, 8 * 1024 ** 2, 1024 ** 3].map(formatBytes), [
    '0',
    '1000',
    '1K',
    '1536',
    '8M',
    '1G',
  ]);
  t.equal(showRaw('abc'), '"abc"');
  t.equal(showRaw(3), '3');
  t.equal(showRaw({ a: [1] }), '{"a":[1]}');
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  t.equal(showRaw(cycle), '[object Object]');
});
