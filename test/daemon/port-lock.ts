import t from 'tap';
import { lockHttpPort } from '../../src/daemon/port-lock.js';
import { freePort } from '../fixtures/daemon-process.js';

t.test('one holder per port until it lets go', { skip: process.platform !== 'linux' }, async (t) => {
  const port = await freePort();
  const lock = await lockHttpPort(port);
  t.ok(lock, 'taken');
  await t.rejects(lockHttpPort(port), {
    code: 'LALLY_ERR_CONFIG',
    message: /already taken by another Lally node/,
  });
  const other = await lockHttpPort(port + 1);
  t.ok(other, 'another port has its own lock');
  await new Promise((resolve) => lock!.close(resolve));
  const again = await lockHttpPort(port);
  t.ok(again, 'free again once released');
  again!.close();
  other!.close();
});

t.test('port 0 (ephemeral) takes no lock', async (t) => {
  t.equal(await lockHttpPort(0), undefined);
});
