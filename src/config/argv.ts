/**
 * Command-line flags. yargs does the tokenising (values, `--x=y`, `--no-x`, repeated array flags); its
 * options are derived from the option table. Before that we normalise the spellings ourselves, because
 * the rules we need are stricter than yargs' and give better messages: `--http_port` is `--http-port`
 * (upstream's README spells it so), `--fresh=maybe` is an error rather than false, and an unknown flag
 * is reported as it was typed.
 */
import yargs, { type Options } from 'yargs';
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

/** The yargs option definitions, derived from the table. Numbers stay text: we parse and check them. */
export function yargsOptions(): Record<string, Options> {
  const options: Record<string, Options> = {};
  for (const option of CONFIG_OPTIONS) {
    options[option.flag] =
      option.kind === 'boolean'
        ? { type: 'boolean', describe: option.description }
        : option.kind === 'paths' || option.kind === 'strings'
          ? { type: 'array', string: true, describe: option.description }
          : { type: 'string', describe: option.description };
  }
  for (const meta of META_FLAGS) options[meta.flag] = { type: 'boolean', describe: meta.description };
  return options;
}

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

export function parseArgv(argv: readonly string[]): ParsedArgv {
  const errors: string[] = [];
  const tokens = normalise(argv, errors);
  const parsed = yargs(tokens)
    .parserConfiguration({
      'camel-case-expansion': false,
      'dot-notation': false,
      'parse-numbers': false,
      'parse-positional-numbers': false,
      'duplicate-arguments-array': true,
      'flatten-duplicate-arrays': true,
      'greedy-arrays': true,
      'boolean-negation': true,
    })
    // help and version off before the options: yargs reserves those names and warns otherwise.
    .help(false)
    .version(false)
    .options(yargsOptions())
    .strict(false)
    .exitProcess(false)
    .fail((message, error) => {
      throw error ?? new Error(message);
    })
    .parseSync() as Record<string, unknown>;

  for (const positional of (parsed._ as unknown[] | undefined) ?? []) {
    errors.push(`unexpected argument ${showRaw(String(positional))}`);
  }
  const values = new Map<keyof LallyConfig, unknown>();
  for (const option of CONFIG_OPTIONS) {
    if (!(option.flag in parsed)) continue;
    const raw = parsed[option.flag];
    // A repeated scalar flag comes as a list: the last one wins, as in most CLIs.
    values.set(
      option.key,
      Array.isArray(raw) && option.kind !== 'paths' && option.kind !== 'strings' ? raw.at(-1) : raw,
    );
  }
  const flagSet = (name: string): boolean => {
    const raw = parsed[name];
    return Array.isArray(raw) ? raw.some(Boolean) : raw === true;
  };
  return { help: flagSet('help'), version: flagSet('version'), values, errors };
}
