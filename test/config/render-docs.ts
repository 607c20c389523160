import { readFile } from 'node:fs/promises';
import t from 'tap';
import { CONFIG_OPTIONS } from '../../src/config/options.js';
import { configDocsPath, renderConfigDocs } from '../../src/config/render-docs.js';

t.test('docs/config.md is up to date with the option table', async (t) => {
  const onDisk = await readFile(configDocsPath(), 'utf8');
  t.equal(
    onDisk,
    renderConfigDocs(),
    'docs/config.md differs from the table: run `npx tsc -p tsconfig.json && node dist/src/config/render-docs.js`',
  );
});

t.test('the docs list every option in every spelling', async (t) => {
  const docs = renderConfigDocs();
  for (const option of CONFIG_OPTIONS) {
    t.match(docs, `\`--${option.flag}`);
    t.match(docs, `\`${option.env}\``);
    if (option.yaml !== undefined) t.match(docs, `| \`${option.yaml}\` |`);
  }
});
