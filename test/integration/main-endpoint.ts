import { spawn } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { childEnv, nodeCommand } from '../fixtures/child-env.js';
import { freePort, PROJECT_ROOT } from '../fixtures/daemon-process.js';

const NODE = join(PROJECT_ROOT, 'test/fixtures/main-endpoint-node.mjs');

t.test("a node's main thread applies, reads and snapshots over the rings to its shard threads", async (t) => {
  const child = spawn(...nodeCommand([NODE, String(await freePort()), String(await freePort())]), {
    cwd: PROJECT_ROOT,
    env: childEnv({ LALLY_ROOT: PROJECT_ROOT }),
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearTimeout(timer);
  t.equal(code, 0, `the node stopped cleanly ${stderr}`);
  const out = JSON.parse(stdout.trim()) as {
    owners: Record<string, number>;
    applied: { applied: boolean }[];
    viaHttp: { value: string };
    older: { applied: boolean };
    afterOlder: { value: string };
    removed: { applied: boolean };
    entry: { entry: { value: string; tombstone: boolean } };
    pages: [string, boolean][][];
  };
  const keys = Object.keys(out.owners);
  t.ok(new Set(Object.values(out.owners)).size === 2, 'the keys are spread over both shards');
  t.ok(
    out.applied.every((a) => a.applied),
    'every replicated record applied on its owner',
  );
  t.equal(out.viaHttp.value, `v:${keys[0]}`, 'and is served over HTTP');
  t.equal(out.older.applied, false, 'an older record loses');
  t.equal(out.afterOlder.value, `v:${keys[0]}`, 'and changed nothing');
  t.equal(out.removed.applied, true);
  t.same(out.entry.entry.tombstone, true, 'READ_ENTRY shows the tombstone');
  for (const [shard, records] of out.pages.entries()) {
    const expected = keys
      .filter((key) => out.owners[key] === shard)
      .map((key) => [key, key === keys[1]])
      .sort();
    t.same(
      [...records].sort(),
      expected,
      `shard ${shard}'s snapshot holds exactly its keys, the tombstone too`,
    );
  }
});
