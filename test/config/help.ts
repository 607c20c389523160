import t from 'tap';
import { renderHelp } from '../../src/config/help.js';
import { CONFIG_OPTIONS } from '../../src/config/options.js';

t.test('help lists usage, every option with its default, env var and YAML key, and an example', async (t) => {
  const help = renderHelp('9.9.9', new Map([['shards', '4 here']]));
  const lines = help.split('\n');
  t.equal(lines[0], 'lally 9.9.9: a distributed in-memory key-value database');
  t.match(help, /Usage:\n {2}lally \[options\]\n {2}lally aof <check\|repair\|dump\|export\|import> \.\.\./);
  t.match(help, /\n {2}lally cluster-demo \[--nodes N\]/, 'the local cluster subcommand');
  for (const group of ['General', 'Server', 'Cluster', 'Storage', 'Limits', 'Hooks', 'Logging']) {
    t.ok(lines.includes(`${group}:`), group);
  }
  for (const option of CONFIG_OPTIONS) {
    const at = lines.findIndex((l) => l.startsWith(`  --${option.flag}`));
    t.not(at, -1, `--${option.flag} listed`);
    const details = lines.slice(at, at + 3).join('\n');
    t.match(details, option.description);
    t.match(details, `[env: ${option.env}]`);
    if (option.yaml !== undefined) t.match(details, `[yaml: ${option.yaml}]`);
    t.match(details, option.key === 'shards' ? '[default: 4 here]' : `[default: ${option.defaultText}]`);
  }
  t.match(help, '-h, --help');
  t.match(help, '-V, --version');
  t.match(help, '--aof, --no-aof');
  t.match(help, /Example.*:\n {2}lally --/);
});
