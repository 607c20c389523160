/**
 * The long fuzz run (`npm run fuzz`): the same fuzzer as test/integration/http-fuzz.ts with more
 * clients and many more requests. LALLY_FUZZ_SEED replays a seed, LALLY_FUZZ_REQUESTS sets the number
 * of requests per client (default 5000).
 */
import t from 'tap';
import { runFuzzSession } from '../fixtures/http-fuzz-session.js';

const perWorker = Number(process.env.LALLY_FUZZ_REQUESTS ?? 5000);
t.test('seeded HTTP fuzzing against a real daemon', (t) =>
  runFuzzSession(t, { fallbackSeed: Date.now() >>> 0, workers: 12, perWorker }),
);
