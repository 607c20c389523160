/**
 * A shifted wall clock, for fault injection: `LALLY_FAULT_CLOCK_OFFSET_MS` moves every version stamp
 * this process makes (the main thread's and every shard's hybrid logical clock) and its clock-skew
 * guard's idea of "now" by that many milliseconds, as a wrong system clock would. The fault suite's
 * skew scenarios start one node with it (per process, as libfaketime would, which this machine does
 * not have). Nothing else moves: timers, timeouts, hint ages and log times keep the real clock, so a
 * skewed node still detects failures on time; only which write wins last-writer-wins changes.
 */
import { ErrorCodes, LallyError } from '../errors.js';

export const CLOCK_OFFSET_ENV = 'LALLY_FAULT_CLOCK_OFFSET_MS';

/** About 11.5 days: beyond any skew worth simulating, well inside a version's 48-bit wall. */
const MAX_OFFSET_MS = 1_000_000_000;

/** The offset the environment asks for, 0 when unset; a malformed value is a configuration error. */
export function clockOffsetFrom(env: NodeJS.ProcessEnv): number {
  const text = env[CLOCK_OFFSET_ENV];
  if (text === undefined || text.trim() === '') return 0;
  const offset = /^\s*[-+]?\d+\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(offset) || Math.abs(offset) > MAX_OFFSET_MS) {
    throw new LallyError(
      ErrorCodes.CONFIG,
      `${CLOCK_OFFSET_ENV} must be a whole number of milliseconds within ±${MAX_OFFSET_MS}, got ${JSON.stringify(text)}`,
    );
  }
  return offset;
}

/** Date.now itself without an offset (the hot path pays nothing), else a shifted copy. */
export function offsetClock(offsetMs: number): () => number {
  return offsetMs === 0 ? Date.now : () => Date.now() + offsetMs;
}
