import t from 'tap';
import { lockHttpPort } from '../../src/daemon/port-lock.js';
import { freePort } from '../fixtures/daemon-process.js';

t.test('one holder per port until it lets go', { skip: process.platform !== 'linux' }, async (t) => {
  const port = await freePort();
  const lock = await lockHttpPort('127.0.0.1', port);
  t.ok(lock, 'taken');
  await t.rejects(lockHttpPort('127.0.0.1', port), {
    code: 'LALLY_ERR_CONFIG',
    message: /^the HTTP port 127\.0\.0\.1:\d+ is already in use by another Lally node on this host/,
  });
  const other = await lockHttpPort('127.0.0.1', port + 1);
  t.ok(other, 'another port has its own lock');
  await new Promise((resolve) => lock!.close(resolve));
  const again = await lockHttpPort('127.0.0.1', port);
  t.ok(again, 'free again once released');
  again!.close();
  other!.close();
});

t.test('port 0 (ephemeral) takes no lock', async (t) => {
  t.equal(await lockHttpPort('127.0.0.1', 0), undefined);
});
