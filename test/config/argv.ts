import fc from 'fast-check';
import t from 'tap';
import { parseArgv } from '../../src/config/argv.js';
import { CONFIG_OPTIONS, type ConfigOption } from '../../src/config/options.js';

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

t.test('a boolean takes a following true or false; the meta flags too', async (t) => {
  t.same(Object.fromEntries(parseArgv(['--fresh', 'false', '--aof', 'true']).values), {
    fresh: false,
    aof: true,
  });
  t.same(parseArgv(['--fresh', 'yes']).errors, ['unexpected argument "yes"']);
  t.same(parseArgv(['--no-aof', 'true']).errors, ['unexpected argument "true"']);
  t.same(parseArgv(['--help', 'false']), { help: false, version: false, values: new Map(), errors: [] });
  t.equal(parseArgv(['--version=yes']).version, true);
  t.same(parseArgv(['--help=maybe']).errors, ['--help: must be true or false, got "maybe"']);
});

t.test('a flag without its value is an error, an empty value is a value', async (t) => {
  t.same(parseArgv(['--http-port']).errors, ['--http-port needs a value (<port>)']);
  t.same(parseArgv(['--host', '--fresh']).errors, ['--host needs a value (<address>)']);
  t.same(parseArgv(['--log-level', '--', 'x']).errors, [
    '--log-level needs a value (<level>)',
    'unexpected argument "x"',
  ]);
  t.same(Object.fromEntries(parseArgv(['--seed-node', '', '--http-port=']).values), {
    seedNode: '',
    httpPort: '',
  });
});

t.test('a list takes every value up to the next flag, and repeats add', async (t) => {
  t.same(Object.fromEntries(parseArgv(['--hooks=a', 'b', '--fresh', '--hooks', '-1', 'c']).values), {
    hooks: ['a', 'b', '-1', 'c'],
    fresh: true,
  });
  t.same(parseArgv(['--log-level', 'info', 'warn']).errors, ['unexpected argument "warn"']);
  // A bare list flag is an empty list: it clears the file's list.
  t.same(Object.fromEntries(parseArgv(['--hooks', '--auth-token']).values), { hooks: [], authToken: [] });
});

// Property: any sequence of flags, each in any of its spellings, parses to what it says: the last
// value of a scalar or boolean, every value of a list in order.
const spellingOf = (flag: string, underscore: boolean): string =>
  underscore ? flag.replaceAll('-', '_') : flag;
const valueText = fc
  .oneof(fc.constantFrom('', '0', '-7', 'a:1', 'x=y', ' s p '), fc.string({ maxLength: 6 }))
  .filter((v) => !v.startsWith('-') || /^-\d/.test(v));

function flagArbitrary(option: ConfigOption): fc.Arbitrary<{ tokens: string[]; value: unknown }> {
  const name = fc.boolean().map((u) => `--${spellingOf(option.flag, u)}`);
  if (option.kind === 'boolean') {
    return fc
      .tuple(name, fc.boolean(), fc.constantFrom('bare', 'no', 'eq', 'next'))
      .map(([n, value, form]) => {
        if (form === 'eq') return { tokens: [`${n}=${value ? 'on' : 'off'}`], value };
        if (form === 'next') return { tokens: [n, String(value)], value };
        return value || form === 'bare'
          ? { tokens: [n], value: true }
          : { tokens: [`--no-${option.flag}`], value: false };
      });
  }
  const count = option.kind === 'paths' || option.kind === 'strings' ? 3 : 1;
  return fc
    .tuple(name, fc.array(valueText, { minLength: 1, maxLength: count }), fc.boolean())
    .map(([n, values, eq]) => ({
      tokens: eq ? [`${n}=${values[0]}`, ...values.slice(1)] : [n, ...values],
      value: count === 1 ? values[0] : values,
    }));
}

t.test('property: flags in any spelling parse to their values', async (t) => {
  const anyFlag = fc
    .constantFrom(...CONFIG_OPTIONS)
    .chain((option) => flagArbitrary(option).map((f) => ({ option, ...f })));
  fc.assert(
    fc.property(fc.array(anyFlag, { maxLength: 8 }), (flags) => {
      const expected = new Map<string, unknown>();
      for (const { option, value } of flags) {
        const before = expected.get(option.key);
        expected.set(option.key, Array.isArray(value) ? [...((before as string[]) ?? []), ...value] : value);
      }
      const parsed = parseArgv(flags.flatMap((f) => f.tokens));
      if (parsed.errors.length > 0) throw new Error(`errors ${JSON.stringify(parsed.errors)}`);
      const got = Object.fromEntries(parsed.values);
      if (
        JSON.stringify(got, Object.keys(got).sort()) !==
        JSON.stringify(Object.fromEntries(expected), Object.keys(got).sort())
      ) {
        throw new Error(
          `got ${JSON.stringify(got)}, expected ${JSON.stringify(Object.fromEntries(expected))}`,
        );
      }
      if (parsed.values.size !== expected.size) throw new Error('a flag too many or too few');
    }),
    { numRuns: 2000 },
  );
  t.pass('2000 random flag sequences parsed to their values');
});
