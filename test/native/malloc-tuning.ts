import t from 'tap';
import { mallocText } from '../../src/cli/run-daemon.js';
import {
  type MallocControls,
  MMAP_THRESHOLD_BYTES,
  mallocControls,
  tuneMalloc,
} from '../../src/native/malloc-tuning.js';

const report = process.report.getReport() as { header?: { glibcVersionRuntime?: string } };
const glibc = process.platform === 'linux' && report.header?.glibcVersionRuntime !== undefined;

t.test(
  'the addon is built by npm ci and controls glibc malloc',
  { skip: !glibc && 'not glibc' },
  async (t) => {
    const native = mallocControls();
    t.ok(native, 'build/Release/lally_native.node loads');
    t.equal(native!.setMmapThreshold(MMAP_THRESHOLD_BYTES), true, 'mallopt(M_MMAP_THRESHOLD) accepted');
    t.type(native!.trim(), 'boolean');
    t.throws(() => native!.setMmapThreshold(0), TypeError);
    t.throws(() => (native!.setMmapThreshold as (v?: unknown) => boolean)('a lot'), TypeError);
    t.equal(mallocControls(), native, 'loaded once');
  },
);

t.test('an addon that is not there leaves malloc as it is', async (t) => {
  t.equal(mallocControls('./no-such-addon.node'), null);
  const tuning = tuneMalloc({}, null);
  t.equal(tuning.kind, 'unavailable');
  t.match(mallocText(tuning), /^defaults \(the native addon is not built/);
});

t.test('tuneMalloc fixes the threshold unless the environment sets malloc', async (t) => {
  const calls: number[] = [];
  const fake = (accepts: boolean): MallocControls => ({
    setMmapThreshold: (bytes) => {
      calls.push(bytes);
      return accepts;
    },
    trim: () => true,
  });
  const tuned = tuneMalloc({}, fake(true));
  t.same(tuned, { kind: 'tuned', mmapThresholdBytes: 128 * 1024 });
  t.same(calls, [128 * 1024]);
  t.equal(mallocText(tuned), 'mmap threshold fixed at 128 KiB');
  for (const variable of ['MALLOC_MMAP_THRESHOLD_', 'GLIBC_TUNABLES']) {
    const left = tuneMalloc({ [variable]: '1' }, fake(true));
    t.same(left, { kind: 'environment', variable });
    t.equal(mallocText(left), `as ${variable} sets it`);
  }
  t.equal(calls.length, 1, "the operator's variable wins: no mallopt");
  const refused = tuneMalloc({}, fake(false));
  t.equal(refused.kind, 'unavailable');
  t.match(mallocText(refused), /not glibc/);
});
