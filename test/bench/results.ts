import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ceilingFigures, ceilingRatios, combineRounds } from '../../bench/results/figures.js';
import {
  type BenchResults,
  type CaseResult,
  checkResults,
  RESULTS_SCHEMA,
  type RoundFigures,
} from '../../bench/results/schema.js';
import { fileStamp, writeResults } from '../../bench/results/write.js';

const round = (ops: number, p99: number): RoundFigures => ({
  requestsPerSec: ops,
  opsPerSec: ops,
  latencyMs: { p50: p99 / 4, p99, p999: p99 * 2, max: p99 * 3, mean: p99 / 3 },
  errors: 0,
  non2xx: 0,
});

function sampleCase(): CaseResult {
  const rounds = [round(90, 2), round(100, 1), round(80, 3)];
  const figures = combineRounds(rounds);
  const ceiling = ceilingFigures(2, [round(100, 1), round(110, 1)]);
  return {
    scenario: 'core',
    id: 'get-uniform-16b-2s-aof-everysec',
    label: 'GET uniform 16 B, 2 shard(s)',
    target: 'lally',
    generator: 'wrk',
    shards: 2,
    aof: 'everysec',
    connections: 64,
    rate: null,
    workload: { kind: 'get', distribution: 'uniform', valueBytes: 16, keyCount: 100, batchSize: 1 },
    ...figures,
    rounds,
    ceiling,
    ...ceilingRatios(figures, ceiling),
  };
}

export function sampleResults(): BenchResults {
  return {
    schema: RESULTS_SCHEMA,
    startedAt: '2026-11-25T08:00:00.000Z',
    finishedAt: '2026-11-25T08:03:00.000Z',
    mode: 'quick',
    options: {
      scenarios: ['core'],
      durationSec: 1,
      connections: 64,
      shards: 2,
      rounds: 2,
      rate: null,
      url: null,
    },
    machine: {
      nproc: 2,
      cpuModel: 'test cpu',
      node: 'v20',
      platform: 'linux-x64',
      totalMemoryBytes: 1 << 30,
      loadAverage: [0, 0, 0],
    },
    loadGenerator: {
      name: 'wrk',
      version: 'wrk 4',
      fixedRate: 'autocannon',
      ceilingRps: 200,
      ratioCeilingToGenerator: 0.5,
    },
    cases: [sampleCase()],
    hop: null,
    memory: null,
    peers: [
      {
        name: 'etcd',
        status: 'skipped',
        reason: 'etcd is not installed',
        install: 'apt-get install etcd-server',
      },
    ],
    skipped: [{ scenario: 'cluster', reason: 'cluster not available yet' }],
  };
}

t.test('rounds combine by median, and ratios divide by the ceiling', async (t) => {
  const c = sampleCase();
  t.equal(c.opsPerSec, 90, 'median of 90, 100, 80');
  t.equal(c.latencyMs.p99, 2);
  t.equal(c.latencyMs.max, 9, 'max is the max over rounds');
  t.equal(c.ceiling?.opsPerSec, 105, 'median of two rounds is their mean');
  t.equal(c.ratioToCeiling, 0.857);
  t.equal(c.ratioP99ToCeiling, 2);
  t.same(
    ceilingRatios(c, null),
    { ratioToCeiling: null, ratioP99ToCeiling: null },
    'no ceiling: null ratios',
  );
  t.equal(ceilingFigures(1, []), null);
});

t.test('every ratio key starts with "ratio"', async (t) => {
  const keys = Object.keys(sampleCase()).filter((k) => /ratio/i.test(k));
  t.ok(keys.length >= 2);
  t.ok(
    keys.every((k) => k.startsWith('ratio')),
    keys.join(', '),
  );
});

t.test('the schema check accepts a result file and names what is wrong in a bad one', async (t) => {
  t.same(checkResults(sampleResults()), []);
  t.same(checkResults(JSON.parse(JSON.stringify(sampleResults()))), [], 'survives JSON');
  t.same(checkResults(null), ['not an object']);
  const bad = JSON.parse(JSON.stringify(sampleResults())) as Record<string, unknown> & {
    cases: Record<string, unknown>[];
  };
  bad.schema = 'other';
  delete bad.cases[0]!.ratioToCeiling;
  bad.cases[0]!.opsPerSec = 'fast';
  const problems = checkResults(bad);
  t.match(problems.join('\n'), /schema is not lally-bench\/1/);
  t.match(problems.join('\n'), /cases\[0\]\.ratioToCeiling/);
  t.match(problems.join('\n'), /cases\[0\]\.opsPerSec is not a number/);
});

t.test('writeResults writes a dated file, latest.json, latest.md and charts', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-results-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeResults(dir, sampleResults());
  const files = readdirSync(dir).sort();
  t.ok(files.includes('2026-11-25T08-00-00Z.json'), files.join(', '));
  t.ok(files.includes('latest.json') && files.includes('latest.md') && files.includes('throughput.svg'));
  t.same(checkResults(JSON.parse(readFileSync(join(dir, 'latest.json'), 'utf8'))), []);
  const md = readFileSync(join(dir, 'latest.md'), 'utf8');
  t.match(md, /## Core figure \(issue 2\)/);
  t.match(md, /0\.86x/);
  t.match(md, /apt-get install etcd-server/);
  t.match(md, /cluster\*\*: skipped: cluster not available yet/);
  t.equal(fileStamp(new Date('2026-01-02T03:04:05.678Z')), '2026-01-02T03-04-05Z');
});
