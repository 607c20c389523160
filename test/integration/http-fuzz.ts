/**
 * A short seeded fuzz run against a real daemon (2 shards, AOF with fsync everysec): every answer has a
 * documented status and shape, the daemon stays up, and every acknowledged write is read back, after
 * the run and after a SIGTERM and a restart. The long run: `npm run fuzz` (test/fuzz/http-fuzz.ts).
 * LALLY_FUZZ_SEED replays a seed.
 */
import t from 'tap';
import { runFuzzSession } from '../fixtures/http-fuzz-session.js';

t.test('seeded HTTP fuzzing against a real daemon', (t) =>
  runFuzzSession(t, { fallbackSeed: 0x1a11e, workers: 8, perWorker: 300 }),
);
