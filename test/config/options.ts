import t from 'tap';
import {
  CONFIG_OPTIONS,
  defaultDataDir,
  isHost,
  isHostPort,
  OPTION_GROUPS,
} from '../../src/config/options.js';

t.test('the spellings of each option agree with each other', async (t) => {
  for (const option of CONFIG_OPTIONS) {
    const snake = option.flag.replaceAll('-', '_');
    if (option.yaml !== undefined) t.equal(option.yaml, snake, `yaml key of --${option.flag}`);
    t.equal(option.env, `LALLY_${snake.toUpperCase()}`, `env of --${option.flag}`);
    t.ok(OPTION_GROUPS.includes(option.group));
    t.ok(option.description.length > 0 && !option.description.includes('\n'), 'one-line description');
    if (option.kind === 'enum') t.ok(option.values?.length, 'enum values');
  }
  const names = (f: (o: (typeof CONFIG_OPTIONS)[number]) => unknown) => new Set(CONFIG_OPTIONS.map(f)).size;
  t.equal(
    names((o) => o.key),
    CONFIG_OPTIONS.length,
    'unique keys',
  );
  t.equal(
    names((o) => o.flag),
    CONFIG_OPTIONS.length,
    'unique flags',
  );
  t.equal(
    names((o) => o.env),
    CONFIG_OPTIONS.length,
    'unique env vars',
  );
});

t.test('host and host:port shapes', async (t) => {
  for (const host of [
    '0.0.0.0',
    '127.0.0.1',
    '::',
    '::1',
    'fe80::1%eth0',
    'localhost',
    'node-1.example.com',
  ]) {
    t.ok(isHost(host), host);
  }
  for (const host of ['', 'not a host', '-x', 'a..b', '[::1]']) t.notOk(isHost(host), host);
  for (const seed of ['10.0.0.1:50071', 'seed.local:1', '[::1]:50071']) t.ok(isHostPort(seed), seed);
  for (const seed of ['10.0.0.1', '10.0.0.1:0', '10.0.0.1:65536', ':50071', '::1:50071', 'a b:1']) {
    t.notOk(isHostPort(seed), seed);
  }
});

t.test('defaultDataDir', async (t) => {
  t.equal(defaultDataDir({}, 50071, '/home/u'), '/home/u/.local/share/lally/node-50071');
  t.equal(defaultDataDir({ XDG_DATA_HOME: '/data/' }, 7, '/home/u'), '/data/lally/node-7');
  t.equal(defaultDataDir({ XDG_DATA_HOME: 'relative' }, 7, '/home/u'), '/home/u/.local/share/lally/node-7');
});
