/**
 * Reader of upstream Lally's text AOF, one operation a line:
 *
 *   timestamp=2024-12-30T10:15:00.123456789+00:00 operation=ADD level=INFO key="user:1" value="alice"
 *   timestamp=2024-12-30T10:16:00.000000001+00:00 operation=REMOVE level=INFO key="user:1"
 *
 * Upstream writes key and value between double quotes without escaping, so the quotes are found by
 * position: the key runs from `key="` to the first `" value="` (or to the closing quote at the end of a
 * REMOVE line), the value from `value="` to the closing quote at the end of the line. Values may hold
 * spaces, quotes and `=`; a key holding `" value="` cannot be told apart and is cut there.
 */
import type { Version } from '../clock/hlc.js';
import { ErrorCodes, LallyError } from '../errors.js';
import type { AofRecord } from './types.js';

export const UPSTREAM_LINE_PREFIX = 'timestamp=';

const LINE_HEAD = /^timestamp=(\S+) operation=(ADD|REMOVE)(?: level=\S*)? key="/i;
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:?\d{2})$/;

/** Wall milliseconds and the nanoseconds below them, from an RFC 3339 stamp with up to 9 fraction digits. */
export function parseRfc3339Nanos(text: string): { wall: number; subMsNanos: number } | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, fraction = '', zone = 'Z'] = m;
  const nanos = Number(fraction.padEnd(9, '0'));
  let offsetMs = 0;
  if (zone !== 'Z' && zone !== 'z') {
    const digits = zone.replace(':', '');
    const sign = digits.startsWith('-') ? -1 : 1;
    offsetMs = sign * (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5))) * 60_000;
  }
  const base = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (Number.isNaN(base)) return undefined;
  return { wall: base - offsetMs + Math.floor(nanos / 1e6), subMsNanos: nanos % 1e6 };
}

/**
 * Turns upstream timestamps into versions: the wall part is the millisecond, the counter holds the
 * nanoseconds below it, bumped when needed so that records of the same millisecond keep file order.
 */
export class UpstreamVersioner {
  #wall = -1;
  #counter = -1;
  readonly #node: number;

  constructor(node = 0) {
    this.#node = node;
  }

  next(wall: number, subMsNanos: number): Version {
    let counter = subMsNanos;
    if (wall === this.#wall && counter <= this.#counter) counter = this.#counter + 1;
    this.#wall = wall;
    this.#counter = counter;
    return { wall, counter, node: this.#node };
  }
}

/** Parses one line; undefined for a blank line; throws LALLY_ERR_AOF_CORRUPT naming the line otherwise. */
export function parseUpstreamLine(
  line: string,
  versioner: UpstreamVersioner,
  where: string,
): AofRecord | undefined {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  if (text.trim() === '') return undefined;
  const head = LINE_HEAD.exec(text);
  const bad = (why: string) =>
    new LallyError(
      ErrorCodes.AOF_CORRUPT,
      `${where}: not an upstream AOF line (${why}): ${text.slice(0, 120)}`,
    );
  if (!head) throw bad('expected timestamp=... operation=ADD|REMOVE ... key="..."');
  const stamp = parseRfc3339Nanos(head[1]!);
  if (stamp === undefined) throw bad(`bad timestamp ${head[1]}`);
  const op = head[2]!.toUpperCase() === 'ADD' ? 'ADD' : 'REMOVE';
  const rest = text.slice(head[0].length);
  const valueAt = rest.indexOf('" value="');
  let key: string;
  let value = '';
  if (valueAt >= 0) {
    key = rest.slice(0, valueAt);
    const quoted = rest.slice(valueAt + '" value="'.length);
    if (!quoted.endsWith('"')) throw bad('the value has no closing quote at the end of the line');
    value = quoted.slice(0, -1);
  } else {
    if (op === 'ADD') throw bad('an ADD without value="..."');
    if (!rest.endsWith('"')) throw bad('the key has no closing quote at the end of the line');
    key = rest.slice(0, -1);
  }
  const version = versioner.next(stamp.wall, stamp.subMsNanos);
  return { op, key, value: op === 'ADD' ? value : '', version };
}
