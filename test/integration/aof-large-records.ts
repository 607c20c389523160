/**
 * Values near and above the scan buffer's 1 MiB, written by a real daemon with fsync `always`, must all
 * be there after a clean restart, with no "damaged tail" cut (issue 7, item 1).
 */
import t, { type Test } from 'tap';
import { shardOfKey } from '../../src/hash/key-hash.js';
import { request, runCli, startDaemon, tempDir } from '../fixtures/daemon-process.js';

const MiB = 1024 * 1024;
const SHARDS = 2;

/**
 * `count` keys that all live on shard 0, so that their records follow each other in one file, each key
 * longer than the one before: records of equal values then differ in size (equal sizes hid the bug).
 */
function keysOnOneShard(prefix: string, count: number): string[] {
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) {
    const key = `${prefix}${i}${'x'.repeat(i)}`;
    if (shardOfKey(key, SHARDS) === 0) keys.push(key);
  }
  return keys;
}

const bigValue = (key: string, bytes: number) => `${key}:`.padEnd(bytes, 'abcdefghij');

async function putAll(t: Test, url: string, values: Map<string, string>) {
  for (const [key, value] of values) {
    const answer = await request(`${url}/kv/${key}`, { method: 'PUT', body: value });
    t.equal(answer.status, 200, `PUT ${key} (${value.length} bytes) acknowledged`);
  }
}

async function checkAfterRestart(t: Test, dataDir: string, args: string[], values: Map<string, string>) {
  const again = await startDaemon(t, { shards: SHARDS, dataDir, args });
  for (const [key, value] of values) {
    const answer = await request(`${again.url}/kv/${key}?raw`);
    t.equal(answer.status, 200, `${key} readable after the restart`);
    t.ok(answer.text === value, `${key}: all ${value.length} bytes as written`);
  }
  t.notOk(
    again.lines.some((line) => /damaged tail|truncat/i.test(line)),
    'no damaged tail was cut at start',
  );
  t.equal((await again.stop()).code, 0);
  const check = await runCli(['aof', 'check', dataDir]);
  t.equal(check.code, 0, `aof check passes: ${check.stdout}`);
  t.notMatch(check.stdout, /BAD/);
}

t.test('two 1 MiB values and a small one survive a restart (fsync always)', async (t) => {
  const dataDir = await tempDir(t);
  const args = ['--aof-fsync', 'always'];
  const daemon = await startDaemon(t, { shards: SHARDS, dataDir, args });
  const [a, b, c] = keysOnOneShard('big-', 3) as [string, string, string];
  const values = new Map([
    [a, bigValue(a, MiB)],
    [b, bigValue(b, MiB)],
    [c, 'small'],
  ]);
  await putAll(t, daemon.url, values);
  t.equal((await daemon.stop('SIGTERM')).code, 0, 'clean stop');
  await checkAfterRestart(t, dataDir, args, values);
});

t.test('with --max-value-bytes 4M, six values of 1.1 to 3 MiB survive a restart', async (t) => {
  const dataDir = await tempDir(t);
  const args = ['--aof-fsync', 'always', '--max-value-bytes', '4M'];
  const daemon = await startDaemon(t, { shards: SHARDS, dataDir, args });
  const sizes = [1.1, 3, 1.5, 2, 2.5, 1.25].map((m) => Math.round(m * MiB));
  const keys = keysOnOneShard('huge-', sizes.length);
  const values = new Map(keys.map((key, i) => [key, bigValue(key, sizes[i]!)]));
  await putAll(t, daemon.url, values);
  t.equal((await daemon.stop('SIGTERM')).code, 0, 'clean stop');
  await checkAfterRestart(t, dataDir, args, values);
});
