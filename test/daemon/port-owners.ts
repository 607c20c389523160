/**
 * The listener count behind the "another process shares the HTTP port" check: real sockets in this
 * process and in a child process that binds the same port the way uWS does (SO_REUSEPORT).
 */
import { spawn } from 'node:child_process';
import t from 'tap';
import { foreignListeners, tcpListenerInodes } from '../../src/daemon/port-owners.js';
import { loadNativeUws, nativeBinaryPath } from '../../src/http/uws-native.js';
import { freePort } from '../fixtures/daemon-process.js';

const linux = process.platform === 'linux';

t.test('counts the listeners of another process on the port, not our own', { skip: !linux }, async (t) => {
  const uws = loadNativeUws();
  const port = await freePort();
  t.equal(await foreignListeners(port), 0, 'nobody listens yet');

  const app = uws.App().get('/*', (res) => {
    res.end('ours');
  });
  const socket = await new Promise<unknown>((resolve) => app.listen('127.0.0.1', port, resolve));
  t.ok(socket, 'this process listens (uWS, SO_REUSEPORT)');
  t.equal((await tcpListenerInodes(port))?.size, 1);
  t.equal(await foreignListeners(port), 0, 'our own socket is not foreign');

  const script = `const uws = require(${JSON.stringify(nativeBinaryPath())});
    uws.App().get('/*', (res) => res.end('theirs')).listen('127.0.0.1', ${port}, (s) => console.log(s ? 'up' : 'down'));`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => child.kill('SIGKILL'));
  const line = await new Promise<string>((resolve) =>
    child.stdout!.once('data', (chunk: Buffer) => resolve(String(chunk))),
  );
  t.match(line, /up/, 'the other process shares the port (SO_REUSEPORT, same user)');
  t.equal(await foreignListeners(port), 1, "the other process's listener is counted");

  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  t.equal(await foreignListeners(port), 0, 'and no longer once it is gone');
  (app as unknown as { close(): void }).close();
});
