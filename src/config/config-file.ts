/** Reading lally.yml: snake_case keys as upstream, unknown keys are warnings, syntax errors name the line. */
import { readFile } from 'node:fs/promises';
import { loadAll, YAMLException } from 'js-yaml';
import { CONFIG_OPTIONS, type ConfigOption } from './options.js';
import { suggest } from './suggest.js';
import type { LallyConfig } from './types.js';

const BY_YAML = new Map<string, ConfigOption>(
  CONFIG_OPTIONS.flatMap((o) => (o.yaml === undefined ? [] : [[o.yaml, o] as const])),
);

export type ConfigFileResult =
  | { readonly kind: 'missing' }
  | { readonly kind: 'error'; readonly error: string }
  | {
      readonly kind: 'read';
      /** Raw values by field, as YAML gave them (unset ones included: the caller skips them). */
      readonly values: ReadonlyMap<keyof LallyConfig, unknown>;
      readonly warnings: readonly string[];
    };

/** `path` is absolute; `shown` is how messages name the file. */
export async function readConfigFile(path: string, shown: string): Promise<ConfigFileResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { kind: 'missing' };
    const why =
      code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : String(error);
    return { kind: 'error', error: `${shown}: cannot read the config file: ${why}` };
  }
  return parseConfigText(text, shown);
}

export function parseConfigText(text: string, shown: string): ConfigFileResult {
  let documents: unknown[];
  try {
    // loadAll, not load: an empty or comments-only file is valid (no settings), load() rejects it.
    documents = loadAll(text, { filename: shown });
  } catch (error) {
    if (error instanceof YAMLException) {
      const where = error.mark ? `:${error.mark.line + 1}:${error.mark.column + 1}` : '';
      return { kind: 'error', error: `${shown}${where}: YAML syntax error: ${error.reason}` };
    }
    return { kind: 'error', error: `${shown}: cannot parse the YAML: ${String(error)}` };
  }
  if (documents.length > 1) {
    return { kind: 'error', error: `${shown}: expected one YAML document, found ${documents.length}` };
  }
  const root = documents[0];
  const values = new Map<keyof LallyConfig, unknown>();
  const warnings: string[] = [];
  if (root === undefined || root === null) return { kind: 'read', values, warnings };
  if (typeof root !== 'object' || Array.isArray(root)) {
    return { kind: 'error', error: `${shown}: expected a mapping of keys to values at the top level` };
  }
  for (const [key, raw] of Object.entries(root)) {
    const option = BY_YAML.get(key);
    if (option === undefined) {
      const hint = suggest(key, [...BY_YAML.keys()]);
      warnings.push(
        `${shown}: unknown key "${key}" ignored${hint === undefined ? '' : ` (did you mean ${hint}?)`}`,
      );
      continue;
    }
    values.set(option.key, raw);
  }
  return { kind: 'read', values, warnings };
}
