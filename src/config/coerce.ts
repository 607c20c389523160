/**
 * Turning one raw value (a flag's text, an environment string, a YAML value) into the typed value its
 * option wants, or into the phrase that says what it must be. Messages are assembled by the caller.
 */
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConfigOption, ConfigValue } from './options.js';

export type Coerced =
  | { readonly ok: true; readonly value: ConfigValue }
  | { readonly ok: false; readonly expected: string };

/** What a relative path is resolved against, and what `~/` means. */
export interface PathBase {
  readonly dir: string;
  readonly home: string;
}

/**
 * Values meaning "not set here" in the file and the environment: upstream's sample lally.yml writes
 * `None`, YAML writes `null` or `~`, and an empty value is the usual way to unset an env var.
 */
export function isUnset(raw: unknown): boolean {
  if (raw === null || raw === undefined) return true;
  if (typeof raw !== 'string') return false;
  const text = raw.trim();
  return text === '' || text === '~' || /^(none|null)$/i.test(text);
}

const TRUE = new Set(['true', 'yes', 'on', '1']);
const FALSE = new Set(['false', 'no', 'off', '0']);

export function parseBoolean(raw: unknown): boolean | undefined {
  if (typeof raw === 'boolean') return raw;
  if (typeof raw !== 'string') return undefined;
  const text = raw.trim().toLowerCase();
  if (TRUE.has(text)) return true;
  if (FALSE.has(text)) return false;
  return undefined;
}

const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

function parseWhole(raw: unknown, sizes: boolean): number | undefined {
  if (typeof raw === 'number') return Number.isSafeInteger(raw) ? raw : undefined;
  if (typeof raw !== 'string') return undefined;
  const text = raw.trim();
  if (/^[+-]?\d+$/.test(text)) {
    const n = Number(text);
    return Number.isSafeInteger(n) ? n : undefined;
  }
  if (!sizes) return undefined;
  // 64M, 64MB, 64MiB, 1.5G: units are powers of 1024 whatever the spelling.
  const match = /^(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?$/i.exec(text);
  if (!match) return undefined;
  const n = Number(match[1]) * (SIZE_UNITS[(match[2] ?? '').toLowerCase()] ?? 1);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** A size as users write it: 1048576 is `1M`, 8192 is `8K`. */
export function formatBytes(n: number): string {
  for (const [unit, size] of [
    ['G', 1024 ** 3],
    ['M', 1024 ** 2],
    ['K', 1024],
  ] as const) {
    if (n >= size && n % size === 0) return `${n / size}${unit}`;
  }
  return String(n);
}

function resolvePath(text: string, base: PathBase): string {
  if (text.startsWith('file:')) return fileURLToPath(text);
  if (text === '~') return base.home;
  if (text.startsWith('~/')) return resolve(base.home, text.slice(2));
  return isAbsolute(text) ? resolve(text) : resolve(base.dir, text);
}

function asText(raw: unknown): string | undefined {
  if (typeof raw === 'string') return raw.trim();
  // A YAML scalar such as `host: 10` or `data_dir: 2024` is still meant as text.
  if (typeof raw === 'number' && Number.isFinite(raw)) return String(raw);
  return undefined;
}

function rangeText(option: ConfigOption): string {
  const show = option.kind === 'bytes' ? formatBytes : String;
  if (option.max === undefined || option.max >= Number.MAX_SAFE_INTEGER)
    return `at least ${show(option.min ?? 0)}`;
  return `from ${show(option.min ?? 0)} to ${show(option.max)}`;
}

/**
 * Coerce a raw value that is set (see `isUnset`). A `paths` value may come as separate items (a YAML
 * sequence, a repeated flag) or as one comma-separated string (the environment).
 */
export function coerceValue(option: ConfigOption, raw: unknown, base: PathBase): Coerced {
  switch (option.kind) {
    case 'boolean': {
      const value = parseBoolean(raw);
      return value === undefined ? { ok: false, expected: 'true or false' } : { ok: true, value };
    }
    case 'integer':
    case 'bytes': {
      const bytes = option.kind === 'bytes';
      const value = parseWhole(raw, bytes);
      const ok =
        value !== undefined && value >= (option.min ?? 0) && value <= (option.max ?? Number.MAX_SAFE_INTEGER);
      if (ok) return { ok: true, value };
      const what = bytes ? 'a size in bytes (K, M, G suffixes allowed)' : 'an integer';
      return { ok: false, expected: `${what} ${rangeText(option)}` };
    }
    case 'enum': {
      const text = asText(raw);
      const values = option.values ?? [];
      return text !== undefined && values.includes(text)
        ? { ok: true, value: text }
        : { ok: false, expected: `one of ${values.join(', ')}` };
    }
    case 'string':
    case 'path': {
      const text = asText(raw);
      if (text === undefined || text === '') return { ok: false, expected: 'a non-empty string' };
      return { ok: true, value: option.kind === 'path' ? resolvePath(text, base) : text };
    }
    case 'paths':
    case 'strings': {
      const what = option.kind === 'paths' ? 'a list of module paths' : 'a list of strings';
      const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : undefined;
      if (items === undefined) return { ok: false, expected: what };
      const list: string[] = [];
      for (const item of items) {
        const text = asText(item);
        if (text === undefined) return { ok: false, expected: what };
        // `a.js,,b.js` or a trailing comma: skip the empty parts rather than fail.
        for (const part of text.split(',')) {
          const trimmed = part.trim();
          if (trimmed !== '') list.push(option.kind === 'paths' ? resolvePath(trimmed, base) : trimmed);
        }
      }
      return { ok: true, value: list };
    }
  }
}

/** A raw value as a message shows it: strings quoted, the rest as JSON. */
export function showRaw(raw: unknown): string {
  if (typeof raw === 'string') return JSON.stringify(raw);
  try {
    return JSON.stringify(raw) ?? String(raw);
  } catch {
    return String(raw);
  }
}
