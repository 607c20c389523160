/**
 * Command-line flags. The rules are those of the usual CLIs (a value after its flag or after `=`,
 * `--no-x` for a boolean, a list flag taking every value that follows it, `--` ending the flags) and a
 * few stricter ones that give better messages: `--http_port` is `--http-port` (upstream's README spells
 * it so), `--fresh=maybe` is an error rather than false, an unknown flag is reported as it was typed,
 * and a flag without its value is an error. Tokenised here rather than by a library: yargs cost the
 * main thread about 60 ms of module loading at every start, before the shard threads could be started.
 */
import { parseBoolean, showRaw } from './coerce.js';
import { CONFIG_OPTIONS, type ConfigOption, META_FLAGS } from './options.js';
import type { LallyConfig } from './types.js';

export interface ParsedArgv {
  readonly help: boolean;
  readonly version: boolean;
  /** Raw values of the flags that were given: text, a boolean, or a list of texts. */
  readonly values: ReadonlyMap<keyof LallyConfig, unknown>;
  readonly errors: readonly string[];
}

const BY_FLAG = new Map<string, ConfigOption>(CONFIG_OPTIONS.map((o) => [o.flag, o]));
const META = new Set<string>(META_FLAGS.map((m) => m.flag));
const SHORT = new Map<string, string>(META_FLAGS.map((m) => [`-${m.short}`, `--${m.flag}`]));

function looksLikeValue(token: string | undefined): token is string {
  return token !== undefined && (!token.startsWith('-') || /^-\d/.test(token));
}

/** Canonical spellings in, unknown flags and bad boolean values out (as errors). */
function normalise(argv: readonly string[], errors: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const short = SHORT.get(token);
    if (short !== undefined) {
      out.push(short);
      continue;
    }
    if (!token.startsWith('--')) {
      if (token.startsWith('-') && !/^-\d/.test(token)) {
        errors.push(`unknown option ${token}`);
        if (looksLikeValue(argv[i + 1])) i++;
      } else {
        out.push(token);
      }
      continue;
    }
    const eq = token.indexOf('=');
    const typed = eq === -1 ? token : token.slice(0, eq);
    const name = typed.slice(2).replaceAll('_', '-');
    const negated = name.startsWith('no-') && BY_FLAG.get(name.slice(3))?.kind === 'boolean';
    const option = BY_FLAG.get(negated ? name.slice(3) : name);
    if (option === undefined && !META.has(name)) {
      errors.push(`unknown option ${typed}`);
      if (eq === -1 && looksLikeValue(argv[i + 1])) i++; // its value, so it is not reported again
      continue;
    }
    if (option?.kind === 'boolean' && eq !== -1) {
      const text = token.slice(eq + 1);
      const value = parseBoolean(text);
      if (value === undefined) {
        errors.push(
          `${option.yaml ?? option.flag}: must be true or false, got ${showRaw(text)} (from ${typed})`,
        );
      } else {
        out.push(`--${value !== negated ? '' : 'no-'}${option.flag}`);
      }
      continue;
    }
    out.push(eq === -1 ? `--${name}` : `--${name}${token.slice(eq)}`);
  }
  return out;
}

function isList(option: ConfigOption): boolean {
  return option.kind === 'paths' || option.kind === 'strings';
}

/**
 * Flags in their canonical spelling (see `normalise`) to raw values. A boolean takes a following
 * `true` or `false` as its value; a scalar takes the next token (a negative number is a value, another
 * flag is not) and the last of a repeated flag wins; a list takes every value up to the next flag, and
 * repeating it adds to it.
 */
function tokenise(tokens: readonly string[], errors: string[]): ParsedArgv {
  const values = new Map<keyof LallyConfig, unknown>();
  const meta = new Map<string, boolean>();
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token === '--' || !token.startsWith('--')) {
      for (const positional of token === '--' ? tokens.slice(i + 1) : [token]) {
        errors.push(`unexpected argument ${showRaw(positional)}`);
      }
      if (token === '--') break;
      continue;
    }
    const eq = token.indexOf('=');
    const name = token.slice(2, eq === -1 ? undefined : eq);
    const inline = eq === -1 ? undefined : token.slice(eq + 1);
    const option = BY_FLAG.get(name);
    if (option === undefined && !META.has(name)) {
      // Only `--no-x` of a boolean x gets here: normalise has reported every other unknown flag.
      values.set(BY_FLAG.get(name.slice(3))!.key, false);
      continue;
    }
    if (option === undefined || option.kind === 'boolean') {
      let value: boolean | undefined = true;
      if (inline !== undefined) value = parseBoolean(inline);
      else if (tokens[i + 1] === 'true' || tokens[i + 1] === 'false') value = tokens[++i] === 'true';
      if (value === undefined) errors.push(`--${name}: must be true or false, got ${showRaw(inline)}`);
      else if (option === undefined) meta.set(name, value);
      else values.set(option.key, value);
      continue;
    }
    const given: string[] = inline === undefined ? [] : [inline];
    while (looksLikeValue(tokens[i + 1]) && (given.length === 0 || isList(option))) given.push(tokens[++i]!);
    // A bare list flag is an empty list, which clears what the file or environment would give.
    if (given.length === 0 && !isList(option)) {
      errors.push(`--${option.flag} needs a value (${option.placeholder})`);
      continue;
    }
    if (!isList(option)) values.set(option.key, given[0]);
    else values.set(option.key, [...((values.get(option.key) as string[] | undefined) ?? []), ...given]);
  }
  return { help: meta.get('help') ?? false, version: meta.get('version') ?? false, values, errors };
}

export function parseArgv(argv: readonly string[]): ParsedArgv {
  const errors: string[] = [];
  return tokenise(normalise(argv, errors), errors);
}
