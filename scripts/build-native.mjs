// npm's install step for this package: builds native/malloc_tuning.c (binding.gyp) with node-gyp.
// The addon is optional: without a compiler the build fails, this prints why, and the daemon runs
// with glibc's default malloc settings (it says so in its log; docs/operations.md#memory).
import { spawnSync } from 'node:child_process';

const gyp = process.env.npm_config_node_gyp;
const [command, args] =
  gyp === undefined ? ['npx', ['--no-install', 'node-gyp', 'rebuild']] : [process.execPath, [gyp, 'rebuild']];
const run = spawnSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
if (run.status === 0) {
  process.stdout.write('lally: built the native malloc tuning (build/Release/lally_native.node)\n');
} else {
  const why = `${run.error?.message ?? ''}${run.stderr ?? ''}`.trim().split('\n').slice(-5).join('\n');
  process.stderr.write(
    `lally: the optional native malloc tuning did not build (it needs python3, make and a C compiler); ` +
      `the daemon runs without it.\n${why}\n`,
  );
}
