import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import t from 'tap';
import { ShardAof } from '../../src/aof/shard-aof.js';
import { recordingLogger, shardOptions, tempDir } from '../fixtures/aof-helpers.js';
import { repoPath } from '../fixtures/paths.js';

const fixture = repoPath('test/fixtures/aof-kill-writer.mjs');
const compiled = repoPath('dist/src/aof/shard-aof.js');

/** Runs the writer until it has printed `acks` acknowledged keys, then SIGKILLs it. */
function writeUntilKilled(dataDir: string, prefix: string, acks: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fixture, dataDir, prefix, String(256 * 1024)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const acked: string[] = [];
    let rest = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.on('data', (chunk: Buffer) => {
      const lines = (rest + chunk.toString()).split('\n');
      rest = lines.pop()!;
      for (const line of lines) if (line.startsWith(`${prefix}-`)) acked.push(line);
      if (acked.length >= acks && child.exitCode === null) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('exit', (_code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`writer exited by itself (${signal ?? _code})`));
      else resolve(acked);
    });
  });
}

t.test('kill -9 under concurrent load with fsync always: every acknowledged write survives', async (t) => {
  if (!existsSync(compiled)) {
    t.fail('dist/ is missing: run `npx tsc -p tsconfig.json` first (npm test does)');
    return;
  }
  const dir = await tempDir(t);
  const acked: string[] = [];
  // Several rounds on the same directory: each restart replays what the previous kill left, compactions
  // (small rewriteMinSize) run in the child while it is killed.
  for (const [round, acks] of [2000, 6000, 3000].entries()) {
    acked.push(...(await writeUntilKilled(dir, `r${round}`, acks)));
  }
  const { logger } = recordingLogger();
  const aof = await ShardAof.open(shardOptions(dir, logger));
  const present = new Set<string>();
  await aof.replay((r) => present.add(r.key));
  const missing = acked.filter((key) => !present.has(key));
  t.same(missing.slice(0, 10), [], `all ${acked.length} acknowledged keys present after restart`);
  t.ok(acked.length >= 11_000);
  await aof.close();
});
