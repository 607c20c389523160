/**
 * The long run of test/fixtures/wire-fuzz.ts (`npm run fuzz`): a fresh seed each time (printed;
 * LALLY_FUZZ_SEED replays it), LALLY_FUZZ_RUNS cases of each kind (default 3000).
 */
import t from 'tap';
import { runWireFuzz } from '../fixtures/wire-fuzz.js';

const runs = Number(process.env.LALLY_FUZZ_RUNS ?? 3000);
t.test('malformed HTTP, garbage bytes and random gRPC against a real daemon', (t) =>
  runWireFuzz(t, { http: runs, garbage: Math.ceil(runs / 2), grpc: runs }, Date.now() >>> 0),
);
