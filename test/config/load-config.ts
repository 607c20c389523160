import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { type ConfigResult, loadConfig } from '../../src/config/load-config.js';
import { CONFIG_OPTIONS } from '../../src/config/options.js';
import type { LallyConfig } from '../../src/config/types.js';
import { PROJECT_ROOT } from '../fixtures/paths.js';

const HOME = '/home/tester';
const repoRoot = PROJECT_ROOT;

function load(argv: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<ConfigResult> {
  return loadConfig(argv, { HOME, ...env }, cwd);
}

type Run = Extract<ConfigResult, { kind: 'run' }>;

function expectRun(t: Test, result: ConfigResult): Run {
  if (result.kind !== 'run') t.fail(`expected a config, got ${JSON.stringify(result)}`);
  return result as Run;
}

function expectErrors(t: Test, result: ConfigResult): string[] {
  if (result.kind !== 'error') {
    t.fail(`expected errors, got ${result.kind}`);
    return [];
  }
  return result.errors;
}

/** A valid raw value for every option, and what it becomes (paths relative to `dir`). */
const SAMPLES: Record<keyof LallyConfig, { raw: string; value: (dir: string) => unknown }> = {
  configPath: { raw: '', value: () => undefined },
  host: { raw: '127.0.0.1', value: () => '127.0.0.1' },
  httpPort: { raw: '4001', value: () => 4001 },
  grpcPort: { raw: '50099', value: () => 50099 },
  shards: { raw: '3', value: () => 3 },
  shutdownTimeoutMs: { raw: '2500', value: () => 2500 },
  hopTimeoutMs: { raw: '750', value: () => 750 },
  quorumTimeoutMs: { raw: '500', value: () => 500 },
  hintMaxBytes: { raw: '8M', value: () => 8 * 1024 * 1024 },
  hintMaxAgeMs: { raw: '60000', value: () => 60000 },
  maxClockSkewMs: { raw: '5000', value: () => 5000 },
  antiEntropyIntervalMs: { raw: '2500', value: () => 2500 },
  antiEntropyMaxKeys: { raw: '5000', value: () => 5000 },
  tombstoneGraceMs: { raw: '3600000', value: () => 3_600_000 },
  ringIdleTurns: { raw: '20', value: () => 20 },
  shardMetrics: { raw: 'false', value: () => false },
  seedNode: { raw: '10.0.0.1:50071', value: () => '10.0.0.1:50071' },
  joinTimeoutMs: { raw: '4000', value: () => 4000 },
  transferTimeoutMs: { raw: '60000', value: () => 60_000 },
  readQuorum: { raw: '2', value: () => 2 },
  writeQuorum: { raw: '3', value: () => 3 },
  replicationFactor: { raw: '3', value: () => 3 },
  advertise: { raw: 'node-a.example:50099', value: () => 'node-a.example:50099' },
  dataDir: { raw: 'store', value: (dir) => join(dir, 'store') },
  fresh: { raw: 'true', value: () => true },
  replayLog: { raw: 'old.aof', value: (dir) => join(dir, 'old.aof') },
  aof: { raw: 'false', value: () => false },
  aofFsync: { raw: 'always', value: () => 'always' },
  aofFlushInterval: { raw: '250', value: () => 250 },
  aofRewriteMinSize: { raw: '1M', value: () => 1024 * 1024 },
  aofRewritePercentage: { raw: '50', value: () => 50 },
  maxKeyBytes: { raw: '512', value: () => 512 },
  maxValueBytes: { raw: '2M', value: () => 2 * 1024 * 1024 },
  maxBodyBytes: { raw: '16M', value: () => 16 * 1024 * 1024 },
  maxBatchOps: { raw: '77', value: () => 77 },
  bodyTimeoutMs: { raw: '5000', value: () => 5000 },
  hooks: { raw: 'h1.js,h2.js', value: (dir) => [join(dir, 'h1.js'), join(dir, 'h2.js')] },
  logLevel: { raw: 'debug', value: () => 'debug' },
  authToken: {
    raw: 'token-one-0123456789,token-two-0123456789',
    value: () => ['token-one-0123456789', 'token-two-0123456789'],
  },
  authTokenFile: { raw: 'tokens.txt', value: (dir) => join(dir, 'tokens.txt') },
  metricsOpen: { raw: 'true', value: () => true },
  clusterSecret: { raw: 'secret-one-0123456789', value: () => ['secret-one-0123456789'] },
  clusterSecretFile: { raw: 'secrets.txt', value: (dir) => join(dir, 'secrets.txt') },
  tlsCert: { raw: 'node.pem', value: (dir) => join(dir, 'node.pem') },
  tlsKey: { raw: 'node.key', value: (dir) => join(dir, 'node.key') },
  tlsCa: { raw: 'ca.pem', value: (dir) => join(dir, 'ca.pem') },
};
// fresh and replay_log together are an error, and so are aof false and replay_log: the "every
// option" tests leave fresh and aof out; aof has its own test below. The secret files are read at
// load (their own test is below).
const SKIPPED = new Set(['configPath', 'fresh', 'aof', 'authTokenFile', 'clusterSecretFile']);
const EVERY = CONFIG_OPTIONS.filter((o) => !SKIPPED.has(o.key));

t.test('aof: false from a flag, the environment or the file', async (t) => {
  const dir = t.testdir({ conf: { 'lally.yml': 'aof: false\n' }, empty: {} });
  const cwd = join(dir, 'conf');
  const empty = join(dir, 'empty');
  t.equal(expectRun(t, await load(['--no-aof'], empty)).config.aof, false);
  t.equal(expectRun(t, await load(['--aof', 'false'], empty)).config.aof, false);
  t.equal(expectRun(t, await load([], empty, { LALLY_AOF: 'false' })).config.aof, false);
  const fromFile = expectRun(t, await load([], cwd));
  t.equal(fromFile.config.aof, false);
  t.equal(fromFile.sources.aof, 'file');
  t.equal(expectRun(t, await load(['--aof'], cwd)).config.aof, true, 'the flag wins over the file');
});

t.test('defaults, with no file and no environment', async (t) => {
  const cwd = t.testdir({});
  const { config, sources, warnings } = expectRun(t, await load([], cwd));
  t.same(warnings, []);
  t.match(config, {
    configPath: undefined,
    fresh: false,
    replayLog: undefined,
    seedNode: undefined,
    joinTimeoutMs: 15_000,
    transferTimeoutMs: 300_000,
    host: '0.0.0.0',
    httpPort: 3000,
    grpcPort: 50071,
    readQuorum: 1,
    writeQuorum: 1,
    shards: availableParallelism(),
    dataDir: `${HOME}/.local/share/lally/node-50071`,
    logLevel: 'info',
    aof: true,
    aofFsync: 'everysec',
    aofFlushInterval: 100,
    aofRewriteMinSize: 64 * 1024 * 1024,
    aofRewritePercentage: 100,
    maxKeyBytes: 8192,
    maxValueBytes: 1024 * 1024,
    maxBodyBytes: 8 * 1024 * 1024,
    maxBatchOps: 10000,
    hooks: [],
    shutdownTimeoutMs: 10000,
    hopTimeoutMs: 5000,
    ringIdleTurns: 0,
    shardMetrics: true,
  });
  for (const option of CONFIG_OPTIONS) t.equal(sources[option.key], 'default', option.key);
});

t.test('the default data directory is per node (gRPC port) and honours XDG_DATA_HOME', async (t) => {
  const cwd = t.testdir({});
  t.equal(
    expectRun(t, await load(['--grpc-port', '50072'], cwd)).config.dataDir,
    `${HOME}/.local/share/lally/node-50072`,
  );
  const xdg = expectRun(t, await load([], cwd, { XDG_DATA_HOME: '/xdg/data/', LALLY_GRPC_PORT: '6000' }));
  t.equal(xdg.config.dataDir, '/xdg/data/lally/node-6000');
  // A relative XDG_DATA_HOME is invalid by the spec and ignored.
  t.equal(
    expectRun(t, await load([], cwd, { XDG_DATA_HOME: 'rel' })).config.dataDir,
    `${HOME}/.local/share/lally/node-50071`,
  );
});

t.test('precedence: flag > environment > file > default', async (t) => {
  const cwd = t.testdir({
    'lally.yml': 'http_port: 4000\nread_quorum: 2\naof_fsync: always\nlog_level: warn\n',
  });
  const flags = ['--http-port', '6000', '--read-quorum', '4', '--aof-fsync', 'no', '--log-level', 'trace'];
  const env = {
    LALLY_HTTP_PORT: '5000',
    LALLY_READ_QUORUM: '3',
    LALLY_AOF_FSYNC: 'everysec',
    LALLY_LOG_LEVEL: 'error',
  };

  const all = expectRun(t, await load(flags, cwd, env));
  t.match(all.config, { httpPort: 6000, readQuorum: 4, aofFsync: 'no', logLevel: 'trace' });
  t.match(all.sources, { httpPort: 'flag', readQuorum: 'flag', aofFsync: 'flag', logLevel: 'flag' });

  const noFlags = expectRun(t, await load([], cwd, env));
  t.match(noFlags.config, { httpPort: 5000, readQuorum: 3, aofFsync: 'everysec', logLevel: 'error' });
  t.match(noFlags.sources, { httpPort: 'env', readQuorum: 'env', aofFsync: 'env', logLevel: 'env' });

  const fileOnly = expectRun(t, await load([], cwd));
  t.match(fileOnly.config, {
    httpPort: 4000,
    readQuorum: 2,
    aofFsync: 'always',
    logLevel: 'warn',
    writeQuorum: 1,
  });
  t.match(fileOnly.sources, {
    httpPort: 'file',
    readQuorum: 'file',
    writeQuorum: 'default',
    configPath: 'default',
  });
  t.equal(fileOnly.config.configPath, join(cwd, 'lally.yml'));

  // Mixed: each key decided on its own.
  const mixed = expectRun(t, await load(['--http-port', '6000'], cwd, { LALLY_READ_QUORUM: '3' }));
  t.match(mixed.config, { httpPort: 6000, readQuorum: 3, aofFsync: 'always', writeQuorum: 1 });
});

t.test('every option from a flag, hyphenated or with underscores (upstream --http_port)', async (t) => {
  const cwd = t.testdir({});
  for (const spelling of ['hyphen', 'underscore'] as const) {
    const argv = EVERY.flatMap((o) => {
      const flag = spelling === 'hyphen' ? o.flag : o.flag.replaceAll('-', '_');
      return [`--${flag}`, SAMPLES[o.key].raw];
    });
    const { config, sources } = expectRun(t, await load(argv, cwd));
    for (const option of EVERY) {
      t.same(config[option.key], SAMPLES[option.key].value(cwd), `${spelling} --${option.flag}`);
      t.equal(sources[option.key], 'flag');
    }
  }
  t.match(expectRun(t, await load(['--http_port=4001', '--fresh'], cwd)).config, {
    httpPort: 4001,
    fresh: true,
  });
});

t.test('every option from its LALLY_ environment variable', async (t) => {
  const cwd = t.testdir({});
  const env = Object.fromEntries(EVERY.map((o) => [o.env, SAMPLES[o.key].raw]));
  const { config, sources, warnings } = expectRun(t, await load([], cwd, env));
  t.same(warnings, []);
  for (const option of EVERY) {
    t.same(config[option.key], SAMPLES[option.key].value(cwd), option.env);
    t.equal(sources[option.key], 'env');
  }
});

t.test('every option from a snake_case key in the file', async (t) => {
  const cwd = t.testdir({
    conf: { 'lally.yml': EVERY.map((o) => `${o.yaml}: ${SAMPLES[o.key].raw}`).join('\n') },
  });
  const file = join(cwd, 'conf', 'lally.yml');
  const { config, sources, warnings } = expectRun(t, await load(['--config', 'conf/lally.yml'], cwd));
  t.same(warnings, []);
  t.equal(config.configPath, file);
  t.equal(sources.configPath, 'flag');
  for (const option of EVERY) {
    t.same(config[option.key], SAMPLES[option.key].value(join(cwd, 'conf')), option.yaml ?? option.flag);
    t.equal(sources[option.key], 'file');
  }
});

t.test('an upstream lally.yml, with None for unset values, works unchanged', async (t) => {
  const upstream = await readFile(join(repoRoot, 'test/fixtures/config-upstream/lally.yml'), 'utf8');
  const cwd = t.testdir({ 'lally.yml': upstream });
  const { config, sources, warnings } = expectRun(t, await load(['--http_port', '4001'], cwd));
  t.same(warnings, []);
  t.match(config, {
    fresh: false,
    replayLog: undefined,
    seedNode: undefined,
    grpcPort: 50071,
    httpPort: 4001,
  });
  t.match(sources, { replayLog: 'default', seedNode: 'default', grpcPort: 'file', httpPort: 'flag' });
});

t.test('None, null, ~ and empty mean unset, in the file and in the environment', async (t) => {
  for (const unset of ['None', 'none', 'null', '~', '', '"None"']) {
    const cwd = t.testdir({ 'lally.yml': `seed_node: ${unset}\nhttp_port: ${unset}\nhooks: ${unset}\n` });
    const { config, sources } = expectRun(t, await load([], cwd));
    t.match(config, { seedNode: undefined, httpPort: 3000, hooks: [] }, `file: ${unset}`);
    t.match(sources, { seedNode: 'default', httpPort: 'default', hooks: 'default' });
  }
  const cwd = t.testdir({ 'lally.yml': 'http_port: 4000\nseed_node: 10.0.0.9:50071\n' });
  for (const unset of ['None', 'null', '~', '']) {
    const { config } = expectRun(t, await load([], cwd, { LALLY_HTTP_PORT: unset, LALLY_SEED_NODE: unset }));
    t.match(
      config,
      { httpPort: 4000, seedNode: '10.0.0.9:50071' },
      `env: ${JSON.stringify(unset)} defers to the file`,
    );
  }
  // An empty flag clears an optional option set by the file.
  const cleared = expectRun(t, await load(['--seed-node', ''], cwd));
  t.equal(cleared.config.seedNode, undefined);
  t.equal(cleared.sources.seedNode, 'flag');
});

t.test('relative paths: against the file folder in the file, against the cwd in flags and env', async (t) => {
  const cwd = t.testdir({
    etc: {
      'lally.yml':
        'data_dir: data\nreplay_log: ../backup/old.aof\nhooks:\n  - ./hooks/audit.js\n  - /abs/h.js\n',
    },
  });
  const etc = join(cwd, 'etc');
  const fromFile = expectRun(t, await load(['--config', 'etc/lally.yml'], cwd));
  t.match(fromFile.config, {
    dataDir: join(etc, 'data'),
    replayLog: join(cwd, 'backup', 'old.aof'),
    hooks: [join(etc, 'hooks', 'audit.js'), '/abs/h.js'],
  });
  const fromFlags = expectRun(
    t,
    await load(
      ['--config', 'etc/lally.yml', '--data-dir', 'd', '--hooks', 'a.js', '--replay-log', 'r.aof'],
      cwd,
    ),
  );
  t.match(fromFlags.config, {
    dataDir: join(cwd, 'd'),
    replayLog: join(cwd, 'r.aof'),
    hooks: [join(cwd, 'a.js')],
  });
  const fromEnv = expectRun(
    t,
    await load(['--config', 'etc/lally.yml'], cwd, { LALLY_DATA_DIR: 'e', LALLY_HOOKS: 'x.js, y.js' }),
  );
  t.match(fromEnv.config, { dataDir: join(cwd, 'e'), hooks: [join(cwd, 'x.js'), join(cwd, 'y.js')] });
  t.equal(expectRun(t, await load(['--data-dir', '~/lally'], cwd)).config.dataDir, `${HOME}/lally`);
});

t.test('hooks: repeated flags add up, a bare --hooks clears the file list', async (t) => {
  const cwd = t.testdir({ 'lally.yml': 'hooks: [./f.js]\n' });
  t.same(expectRun(t, await load(['--hooks', 'a.js', 'b.js', '--hooks', 'c.js'], cwd)).config.hooks, [
    join(cwd, 'a.js'),
    join(cwd, 'b.js'),
    join(cwd, 'c.js'),
  ]);
  t.same(expectRun(t, await load(['--hooks'], cwd)).config.hooks, []);
  t.same(expectRun(t, await load([], cwd)).config.hooks, [join(cwd, 'f.js')]);
});

t.test('booleans: --no-aof, --aof=false, env and YAML spellings', async (t) => {
  const cwd = t.testdir({ 'lally.yml': 'aof: no\n' });
  t.equal(expectRun(t, await load([], cwd)).config.aof, false);
  t.equal(expectRun(t, await load(['--aof'], cwd)).config.aof, true);
  t.equal(expectRun(t, await load(['--no-aof'], cwd, { LALLY_AOF: 'true' })).config.aof, false);
  t.equal(expectRun(t, await load(['--aof=false'], cwd)).config.aof, false);
  t.equal(expectRun(t, await load(['--no_aof=false'], cwd)).config.aof, true);
  t.equal(expectRun(t, await load([], cwd, { LALLY_AOF: '1' })).config.aof, true);
});

t.test('each validation error names the key and where its value came from, all at once', async (t) => {
  const cwd = t.testdir({
    'lally.yml':
      'read_quorum: 0\naof_fsync: sometimes\nshards: two\nhooks: {a: 1}\nmax_key_bytes: 2G\nhost: "not a host"\n',
  });
  const errors = expectErrors(
    t,
    await load(['--http-port', 'abc', '--fresh', '--replay-log', 'x.aof', '--seed-node', 'nohost'], cwd, {
      LALLY_GRPC_PORT: '70000',
      LALLY_WRITE_QUORUM: '-1',
      LALLY_LOG_LEVEL: 'loud',
      LALLY_AOF: 'maybe',
      LALLY_AOF_FLUSH_INTERVAL: '1.5',
      LALLY_SHUTDOWN_TIMEOUT_MS: '',
      LALLY_MAX_BATCH_OPS: '0',
    }),
  );
  t.same(errors.sort(), [
    'aof: must be true or false, got "maybe" (from LALLY_AOF)',
    'aof_flush_interval: must be an integer from 1 to 60000, got "1.5" (from LALLY_AOF_FLUSH_INTERVAL)',
    'aof_fsync: must be one of always, everysec, no, got "sometimes" (from lally.yml)',
    'fresh: cannot be combined with replay_log, which replaces the data anyway (fresh from --fresh, replay_log from --replay-log)',
    'grpc_port: must be an integer from 0 to 65535, got "70000" (from LALLY_GRPC_PORT)',
    'hooks: must be a list of module paths, got {"a":1} (from lally.yml)',
    'host: must be an IP address or a host name, got "not a host" (from lally.yml)',
    'http_port: must be an integer from 1 to 65535, got "abc" (from --http-port)',
    'log_level: must be one of fatal, error, warn, info, debug, trace, silent, got "loud" (from LALLY_LOG_LEVEL)',
    'max_batch_ops: must be an integer from 1 to 1000000, got "0" (from LALLY_MAX_BATCH_OPS)',
    'max_key_bytes: must be a size in bytes (K, M, G suffixes allowed) from 1 to 1M, got "2G" (from lally.yml)',
    'read_quorum: must be an integer from 1 to 1024, got 0 (from lally.yml)',
    'seed_node: must be host:port, got "nohost" (from --seed-node)',
    'shards: must be an integer from 1 to 1024, got "two" (from lally.yml)',
    'write_quorum: must be an integer from 1 to 1024, got "-1" (from LALLY_WRITE_QUORUM)',
  ]);
});

t.test(
  'more validation: shard bound, a port as a float, a port clash, fresh with replay_log from the file',
  async (t) => {
    const cwd = t.testdir({ 'lally.yml': 'replay_log: old.aof\nhttp_port: 3000.5\n' });
    t.same(expectErrors(t, await load(['--shards', '0', '--fresh'], cwd)), [
      'http_port: must be an integer from 1 to 65535, got 3000.5 (from lally.yml)',
      'shards: must be an integer from 1 to 1024, got "0" (from --shards)',
      'fresh: cannot be combined with replay_log, which replaces the data anyway (fresh from --fresh, replay_log from lally.yml)',
    ]);
    const empty = t.testdir({});
    t.same(expectErrors(t, await load(['--no-aof', '--replay-log', 'old.aof'], empty)), [
      'replay_log: needs the AOF, which it replaces and then replays; it cannot be combined with aof: false (replay_log from --replay-log, aof from --aof)',
    ]);
    t.same(expectErrors(t, await load(['--http-port', '5000'], empty, { LALLY_GRPC_PORT: '5000' })), [
      'http_port: must differ from grpc_port, both are 5000 (http_port from --http-port, grpc_port from LALLY_GRPC_PORT)',
    ]);
    t.same(expectErrors(t, await load(['--http-port'], empty)), ['--http-port needs a value (<port>)']);
    t.same(expectErrors(t, await load(['--http-port='], empty)), [
      'http_port: must be an integer from 1 to 65535, got "" (from --http-port)',
    ]);
    t.same(expectErrors(t, await load(['--fresh=maybe'], empty)), [
      'fresh: must be true or false, got "maybe" (from --fresh)',
    ]);
    // An invalid value that a higher source overrides is not an error: only the merged config is checked.
    t.equal(
      expectRun(t, await load(['--http-port', '4000'], empty, { LALLY_HTTP_PORT: 'x' })).config.httpPort,
      4000,
    );
  },
);

t.test('unknown flags and stray arguments are errors', async (t) => {
  const cwd = t.testdir({});
  t.same(expectErrors(t, await load(['--foo', '1', '-x', '--http-port', '4000', 'stray'], cwd)), [
    'unknown option --foo',
    'unknown option -x',
    'unexpected argument "stray"',
  ]);
  t.same(expectErrors(t, await load(['--no-such'], cwd)), ['unknown option --no-such']);
});

t.test('unknown keys in the file and misspelt LALLY_ variables are warnings', async (t) => {
  const cwd = t.testdir({ 'lally.yml': 'http_prot: 1\nhttpPort: 2\nfavourite_colour: blue\n' });
  const { warnings } = expectRun(
    t,
    await load([], cwd, { LALLY_HTTP_PROT: '1', LALLY_WHATEVER: 'x', OTHER: 'y' }),
  );
  t.same(warnings, [
    'unknown environment variable LALLY_HTTP_PROT ignored (did you mean LALLY_HTTP_PORT?)',
    'lally.yml: unknown key "http_prot" ignored (did you mean http_port?)',
    'lally.yml: unknown key "httpPort" ignored (did you mean http_port?)',
    'lally.yml: unknown key "favourite_colour" ignored',
  ]);
});

t.test('a body limit below the value limit is a warning', async (t) => {
  const cwd = t.testdir({});
  const { warnings } = expectRun(t, await load(['--max-body-bytes', '512K'], cwd));
  t.same(warnings, [
    'max_body_bytes (512K) is below max_value_bytes (1M): values that large cannot be sent over HTTP',
  ]);
});

t.test('config file: missing --config is an error, a missing default lally.yml is not', async (t) => {
  const cwd = t.testdir({ 'lally.yml': 'http_port: 4000\n' });
  t.same(expectErrors(t, await load(['--config', 'nope.yml'], cwd)), [
    `config: file not found: ${join(cwd, 'nope.yml')} (from --config)`,
  ]);
  t.same(expectErrors(t, await load([], cwd, { LALLY_CONFIG: '/no/such.yml' })), [
    'config: file not found: /no/such.yml (from LALLY_CONFIG)',
  ]);
  const none = expectRun(t, await load([], t.testdir({})));
  t.equal(none.config.configPath, undefined);
  // --config '' reads no file at all, not even ./lally.yml.
  const skipped = expectRun(t, await load(['--config', ''], cwd));
  t.match(skipped.config, { configPath: undefined, httpPort: 3000 });
  t.same(expectErrors(t, await load(['--config', '.'], cwd)), [
    `${cwd}: cannot read the config file: is a directory`,
  ]);
});

t.test('config file: syntax errors name the file and line; odd shapes', async (t) => {
  const cwd = t.testdir({
    'bad.yml': 'http_port: 3000\n  grpc_port: 50071\n',
    'list.yml': '- a\n- b\n',
    'empty.yml': '# nothing set\n',
    'two.yml': 'a: 1\n---\nb: 2\n',
    elsewhere: {},
  });
  t.same(expectErrors(t, await load(['--config', 'bad.yml'], cwd)), [
    'bad.yml:2:12: YAML syntax error: bad indentation of a mapping entry',
  ]);
  // Outside the cwd, a file is named by its absolute path.
  t.same(expectErrors(t, await load(['--config', join(cwd, 'list.yml')], join(cwd, 'elsewhere'))), [
    `${join(cwd, 'list.yml')}: expected a mapping of keys to values at the top level`,
  ]);
  t.same(expectErrors(t, await load(['--config', 'two.yml'], cwd)), [
    'two.yml: expected one YAML document, found 2',
  ]);
  t.equal(expectRun(t, await load(['--config', 'empty.yml'], cwd)).config.httpPort, 3000);
});

t.test('the sample lally.yml sets every key, to the defaults, without warnings', async (t) => {
  const sample = await readFile(join(repoRoot, 'lally.yml'), 'utf8');
  const cwd = t.testdir({ 'lally.yml': sample });
  const withFile = expectRun(t, await load([], cwd));
  const without = expectRun(t, await load(['--config', ''], cwd));
  t.same(withFile.warnings, []);
  t.same({ ...withFile.config, configPath: undefined }, without.config);
  for (const option of CONFIG_OPTIONS) {
    if (option.yaml !== undefined)
      t.match(sample, new RegExp(`^${option.yaml}:`, 'm'), `sample sets ${option.yaml}`);
  }
  t.match(sample, /^seed_node: None/m);
});

t.test('--help and --version answer with text, whatever else is on the line', async (t) => {
  const cwd = t.testdir({});
  const help = await load(['--http-port', 'abc', '--help'], cwd);
  t.equal(help.kind, 'help');
  t.match(help.kind === 'help' ? help.text : '', /^lally \d+\.\d+\.\d+/);
  t.equal((await load(['-h'], cwd)).kind, 'help');
  const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  t.same(await load(['--version'], cwd), { kind: 'version', text: `lally ${pkg.version}` });
  t.same(await load(['-V'], cwd), { kind: 'version', text: `lally ${pkg.version}` });
});

t.test('a quorum above the replication factor is a configuration error', async (t) => {
  const errors = expectErrors(
    t,
    await loadConfig(
      ['--config', '', '--replication-factor', '2', '--write-quorum', '3', '--read-quorum', '3'],
      {},
      process.cwd(),
    ),
  );
  t.match(errors.join('\n'), /read_quorum: 3 is above replication_factor 2/);
  t.match(errors.join('\n'), /write_quorum: 3 is above replication_factor 2/);
  const fine = await loadConfig(
    ['--config', '', '--replication-factor', '3', '--write-quorum', '3', '--read-quorum', '2'],
    {},
    process.cwd(),
  );
  t.equal(fine.kind, 'run');
  const unset = await loadConfig(['--config', '', '--write-quorum', '5'], {}, process.cwd());
  t.equal(unset.kind, 'run', 'no factor: every node holds every key, any quorum goes');
  if (unset.kind === 'run') {
    t.equal(unset.config.replicationFactor, undefined);
    t.equal(unset.config.advertise, undefined);
  }
});

t.test('advertise must be host:port', async (t) => {
  for (const bad of ['node-a', 'node-a:0', 'node-a:99999', ':50071']) {
    const errors = expectErrors(t, await loadConfig(['--config', '', '--advertise', bad], {}, process.cwd()));
    t.match(errors.join('\n'), /advertise/, bad);
  }
});

t.test(
  'auth_token_file and cluster_secret_file add their lines; secrets never show in messages',
  async (t) => {
    const dir = t.testdir({
      'tokens.txt': '# API tokens\nfile-token-0123456789\n\n  file-token-abcdefghij  \n',
      'secrets.txt': 'file-secret-0123456789\n',
      'short.txt': 'ok-token-0123456789\nshort\n',
      'empty.txt': '# nothing\n',
    });
    const config = expectRun(
      t,
      await load(
        [
          '--auth-token',
          'flag-token-0123456789',
          '--auth-token-file',
          'tokens.txt',
          '--cluster-secret-file',
          'secrets.txt',
        ],
        dir,
      ),
    ).config;
    t.same(config.authToken, ['flag-token-0123456789', 'file-token-0123456789', 'file-token-abcdefghij']);
    t.same(config.clusterSecret, ['file-secret-0123456789']);
    const env = expectRun(t, await load([], dir, { LALLY_AUTH_TOKEN: 'env-token-0123456789' })).config;
    t.same(env.authToken, ['env-token-0123456789']);

    const errors = expectErrors(
      t,
      await load(
        ['--auth-token', 'tooshort', '--cluster-secret-file', 'short.txt', '--auth-token-file', 'empty.txt'],
        dir,
      ),
    );
    t.match(
      errors.join('\n'),
      /auth_token: must be tokens of 16 to 256 printable ASCII characters without spaces, got a value that is not shown/,
    );
    t.match(errors.join('\n'), /cluster_secret_file: line 2 of .*short\.txt must be a token/);
    t.match(errors.join('\n'), /auth_token_file: .*empty\.txt holds no token/);
    t.notOk(errors.join('\n').includes('tooshort'), 'the bad token is not echoed');
    t.notOk(errors.join('\n').includes('ok-token'), "the file's tokens are not echoed");
    const missing = expectErrors(t, await load(['--cluster-secret-file', 'nope.txt'], dir));
    t.match(missing.join('\n'), /cluster_secret_file: cannot read .*nope\.txt: ENOENT/);
  },
);

t.test('tls_cert and tls_key go together; tls_ca needs them', async (t) => {
  const dir = t.testdir({});
  t.match(
    expectErrors(t, await load(['--tls-cert', 'a.pem'], dir)).join('\n'),
    /tls_cert: needs tls_key too/,
  );
  t.match(expectErrors(t, await load(['--tls-key', 'a.key'], dir)).join('\n'), /tls_key: needs tls_cert too/);
  t.match(
    expectErrors(t, await load(['--tls-ca', 'ca.pem'], dir)).join('\n'),
    /tls_ca: needs tls_cert and tls_key/,
  );
  const run = expectRun(t, await load(['--tls-cert', 'a.pem', '--tls-key', 'a.key'], dir)).config;
  t.equal(run.tlsCert, join(dir, 'a.pem'));
  t.equal(run.tlsCa, undefined);
});

t.test('tokens and secrets at, just under and just over their lengths (16 to 256)', async (t) => {
  const dir = t.testdir({});
  for (const [flag, key] of [
    ['--auth-token', 'authToken'],
    ['--cluster-secret', 'clusterSecret'],
  ] as const) {
    for (const length of [16, 256]) {
      const token = 'k'.repeat(length);
      t.same(expectRun(t, await load([flag, token], dir)).config[key], [token], `${flag} of ${length}`);
    }
    for (const length of [15, 257]) {
      const errors = expectErrors(t, await load([flag, 'k'.repeat(length)], dir));
      t.match(errors.join('\n'), /must be tokens of 16 to 256 printable ASCII/, `${flag} of ${length}`);
    }
  }
});
