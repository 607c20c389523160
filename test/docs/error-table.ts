import { readFileSync } from 'node:fs';
import t from 'tap';
import { ErrorCodes, httpStatusOf } from '../../src/errors.js';
import { PROJECT_ROOT } from '../fixtures/daemon-process.js';

const api = readFileSync(`${PROJECT_ROOT}/docs/api.md`, 'utf8');

t.test('docs/api.md documents every error code', async (t) => {
  for (const code of Object.values(ErrorCodes)) t.match(api, `\`${code}\``, `${code} is in docs/api.md`);
});

t.test('the HTTP status in the docs is the one the table in src/errors.ts answers', async (t) => {
  const rows = [...api.matchAll(/^\| (\d{3}) \| `(LALLY_ERR_[A-Z_0-9]+)` \|/gm)];
  t.ok(rows.length >= 10, 'the HTTP error table was found');
  for (const [, status, code] of rows) t.equal(httpStatusOf(code!), Number(status), `${code}`);
});
