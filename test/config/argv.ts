import t from 'tap';
import { parseArgv, yargsOptions } from '../../src/config/argv.js';
import { CONFIG_OPTIONS } from '../../src/config/options.js';

t.test('yargs options are derived from the table', async (t) => {
  const options = yargsOptions();
  for (const option of CONFIG_OPTIONS) t.ok(options[option.flag], option.flag);
  t.match(options, { aof: { type: 'boolean' }, hooks: { type: 'array' }, 'http-port': { type: 'string' } });
});

t.test('raw values, spellings and the last of a repeated flag', async (t) => {
  const parsed = parseArgv([
    '--http_port',
    '1',
    '--http-port=2',
    '--grpc-port',
    '-5',
    '--no-aof',
    '--seed-node=a:1',
  ]);
  t.same(parsed.errors, []);
  t.same(Object.fromEntries(parsed.values), { httpPort: '2', grpcPort: '-5', aof: false, seedNode: 'a:1' });
  t.same(parsed.help, false);
  t.same(parsed.version, false);
});

t.test('boolean values written with =', async (t) => {
  t.same(Object.fromEntries(parseArgv(['--fresh=yes', '--aof=off']).values), { fresh: true, aof: false });
  t.same(parseArgv(['--aof=2']).errors, ['aof: must be true or false, got "2" (from --aof)']);
});

t.test('help and version, long and short', async (t) => {
  t.equal(parseArgv(['-h']).help, true);
  t.equal(parseArgv(['--help']).help, true);
  t.equal(parseArgv(['-V']).version, true);
  t.equal(parseArgv(['--version']).version, true);
});

t.test('unknown options, their values, and what follows --', async (t) => {
  t.same(parseArgv(['--bogus', 'value', '--fresh']).errors, ['unknown option --bogus']);
  t.same(parseArgv(['--bogus=1']).errors, ['unknown option --bogus']);
  t.same(parseArgv(['-q', '--fresh']).errors, ['unknown option -q']);
  t.same(parseArgv(['--', '--fresh']).errors, ['unexpected argument "--fresh"']);
});
