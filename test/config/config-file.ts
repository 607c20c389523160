import t from 'tap';
import { parseConfigText, readConfigFile } from '../../src/config/config-file.js';

t.test('parseConfigText', async (t) => {
  const read = parseConfigText('http_port: 4000\nseed_node: None\nbogus: 1\n', 'f.yml');
  t.equal(read.kind, 'read');
  if (read.kind === 'read') {
    t.same(
      Object.fromEntries(read.values),
      { httpPort: 4000, seedNode: 'None' },
      "raw values; None is the caller's business",
    );
    t.same(read.warnings, ['f.yml: unknown key "bogus" ignored']);
  }
  t.same(parseConfigText('', 'f.yml'), { kind: 'read', values: new Map(), warnings: [] });
  t.same(parseConfigText('~\n', 'f.yml'), { kind: 'read', values: new Map(), warnings: [] });
  t.same(parseConfigText('3000\n', 'f.yml'), {
    kind: 'error',
    error: 'f.yml: expected a mapping of keys to values at the top level',
  });
  t.same(parseConfigText('a: [1, 2\n', 'f.yml'), {
    kind: 'error',
    error: 'f.yml:2:1: YAML syntax error: deficient indentation',
  });
  t.same(parseConfigText('http_port: 1\nhttp_port: 2\n', 'f.yml'), {
    kind: 'error',
    error: 'f.yml:2:1: YAML syntax error: duplicated mapping key',
  });
});

t.test('readConfigFile', async (t) => {
  const dir = t.testdir({ 'a.yml': 'fresh: true\n' });
  t.same(await readConfigFile(`${dir}/missing.yml`, 'missing.yml'), { kind: 'missing' });
  t.match(await readConfigFile(`${dir}/a.yml`, 'a.yml'), { kind: 'read' });
  t.same(await readConfigFile(dir, 'dir'), {
    kind: 'error',
    error: 'dir: cannot read the config file: is a directory',
  });
});
