import t from 'tap';
import { parseBenchArgs, parseScenarioList, SCENARIO_NAMES } from '../../bench/args.js';

t.test('defaults: every scenario, 5 s runs, 2 rounds', async (t) => {
  const o = parseBenchArgs([], '/out');
  t.same(o.scenarios, [...SCENARIO_NAMES]);
  t.equal(o.durationSec, 5);
  t.equal(o.rounds, 2);
  t.equal(o.connections, 64);
  t.equal(o.url, null);
  t.equal(o.rate, null);
  t.equal(o.out, '/out');
  t.equal(o.memoryKeys, 1_000_000);
  t.equal(o.loadGenerator, 'auto');
  t.notOk(o.quick);
});

t.test('--quick shortens runs and rounds but keeps every scenario', async (t) => {
  const o = parseBenchArgs(['--quick'], '/out');
  t.ok(o.quick);
  t.same(o.scenarios, [...SCENARIO_NAMES]);
  t.equal(o.durationSec, 1);
  t.equal(o.rounds, 1);
  t.equal(o.memoryKeys, 200_000);
  t.equal(parseBenchArgs(['--quick', '--duration', '3'], '/out').durationSec, 3, 'explicit values win');
});

t.test('options', async (t) => {
  const o = parseBenchArgs(
    [
      '--scenarios',
      'peers,core',
      '--duration',
      '2.5',
      '--connections',
      '8',
      '--shards',
      '4',
      '--rate',
      '5000',
      '--url',
      'http://127.0.0.1:3000/ignored',
      '--out',
      'x',
      '--load-generator',
      'autocannon',
      '--rounds',
      '2',
    ],
    '/out',
  );
  t.same(o.scenarios, ['core', 'peers'], 'in suite order');
  t.equal(o.durationSec, 2.5);
  t.equal(o.connections, 8);
  t.equal(o.shards, 4);
  t.equal(o.rate, 5000);
  t.equal(o.url, 'http://127.0.0.1:3000', 'the origin');
  t.equal(o.out, 'x');
  t.equal(o.loadGenerator, 'autocannon');
  t.equal(o.rounds, 2);
});

t.test('bad input throws one clear message', async (t) => {
  t.throws(() => parseBenchArgs(['--scenarios', 'core,nope'], '/out'), /unknown scenario "nope"/);
  t.throws(() => parseBenchArgs(['--connections', '0'], '/out'), /--connections must be a positive integer/);
  t.throws(() => parseBenchArgs(['--duration', 'abc'], '/out'), /--duration must be a positive number/);
  t.throws(() => parseBenchArgs(['--load-generator', 'ab'], '/out'), /--load-generator/);
  t.throws(() => parseBenchArgs(['--url', 'https://x'], '/out'), /http:\/\//);
  t.throws(() => parseBenchArgs(['--bogus'], '/out'));
  t.throws(() => parseScenarioList(' , '), /names no scenario/);
});
