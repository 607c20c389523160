/**
 * A short property-based run of test/fixtures/wire-fuzz.ts against a real daemon: malformed HTTP over
 * TCP, garbage bytes to both ports, random HTTP/2 and gRPC requests to the gRPC port. The daemon stays
 * up, never answers 5xx, keeps its sentinel keys. The long run: `npm run fuzz` (test/fuzz/wire-fuzz.ts).
 */
import t from 'tap';
import { runWireFuzz } from '../fixtures/wire-fuzz.js';

t.test('malformed HTTP, garbage bytes and random gRPC against a real daemon', (t) =>
  runWireFuzz(t, { http: 80, garbage: 30, grpc: 40 }, 0x5eed),
);
