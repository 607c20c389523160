/**
 * The export format: JSON lines, one live key a line, for backups and for `lally aof import`:
 *
 *   {"key":"user:1","value":"alice","version":"1735553700123.0.7","tombstone":false}
 *   {"key":"user:2","value":null,"version":"1735553760000.3.7","tombstone":true}
 *
 * `version` is `wall.counter.node` (src/clock/hlc.ts formatVersion); an object {wall, counter, node} is
 * accepted on import too.
 */
import { formatVersion, parseVersion, type Version } from '../clock/hlc.js';
import { ErrorCodes, LallyError } from '../errors.js';
import type { AofRecord } from './types.js';

export function encodeExportLine(record: AofRecord): string {
  const tombstone = record.op === 'REMOVE';
  return `${JSON.stringify({
    key: record.key,
    value: tombstone ? null : record.value,
    version: formatVersion(record.version),
    tombstone,
  })}\n`;
}

export function parseExportLine(line: string, where: string): AofRecord | undefined {
  if (line.trim() === '') return undefined;
  const bad = (why: string) =>
    new LallyError(ErrorCodes.AOF_CORRUPT, `${where}: not an export line (${why})`);
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    throw bad('invalid JSON');
  }
  if (typeof raw !== 'object' || raw === null) throw bad('not an object');
  const { key, value, version, tombstone } = raw as Record<string, unknown>;
  if (typeof key !== 'string') throw bad('key must be a string');
  const isTombstone = tombstone === true;
  if (!isTombstone && typeof value !== 'string') throw bad('value must be a string');
  const parsed = toVersion(version);
  if (parsed === undefined) throw bad('version must be "wall.counter.node" or {wall, counter, node}');
  return {
    op: isTombstone ? 'REMOVE' : 'ADD',
    key,
    value: isTombstone ? '' : (value as string),
    version: parsed,
  };
}

function toVersion(raw: unknown): Version | undefined {
  if (typeof raw === 'string') return parseVersion(raw);
  if (typeof raw === 'object' && raw !== null) {
    const { wall, counter, node } = raw as Record<string, unknown>;
    const ok = (v: unknown, max: number) =>
      Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= max;
    if (ok(wall, Number.MAX_SAFE_INTEGER) && ok(counter, 0xffffffff) && ok(node, 0xffffffff)) {
      return { wall: wall as number, counter: counter as number, node: node as number };
    }
  }
  return undefined;
}
