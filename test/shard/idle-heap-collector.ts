import t from 'tap';
import { exposedGc, IdleHeapCollector } from '../../src/shard/idle-heap-collector.js';

t.test('V8 gives gc() once --expose-gc is set at run time', async (t) => {
  t.type(exposedGc(), 'function');
});

t.test('an idle thread whose heap grew is collected once; a busy one is not', async (t) => {
  let calls = 0;
  const collector = new IdleHeapCollector({ everyMs: 1e9, collect: () => calls++ });
  t.teardown(() => collector.stop());
  // Garbage the heap cannot have collected yet: well above the 8 MiB growth threshold.
  let keep: number[] | null = new Array<number>(5_000_000).fill(1.5); // 40 MB of heap
  for (let i = 0; i < 5_000_000; i++) keep[i] = i / 3;
  // Busy: the loops above kept the thread's event loop fully utilized since the collector started.
  t.notOk(collector.check(), 'not while the thread works');
  keep = null;
  await new Promise((r) => setTimeout(r, 300)); // idle: the next period's utilization is near 0
  t.equal(keep, null);
  t.ok(collector.check(), 'idle, heap grown: collected');
  t.equal(calls, 2, 'two collections');
});

t.test('the exposed gc() frees garbage; without gc() the collector stays off', async (t) => {
  const { getHeapStatistics } = await import('node:v8');
  const gc = exposedGc()!;
  gc();
  let keep: number[] | null = new Array<number>(5_000_000).fill(2.5);
  const before = getHeapStatistics().used_heap_size;
  keep = null;
  t.equal(keep, null);
  gc();
  t.ok(getHeapStatistics().used_heap_size < before - 16 * 1024 * 1024, 'garbage gone');
  const off = new IdleHeapCollector({ collect: null });
  t.notOk(off.check());
});
