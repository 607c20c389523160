/**
 * `LALLY_*` environment variables: one per option. Another `LALLY_` name is a warning only when it is
 * close to one of ours (a likely typo, with a "did you mean"): hooks and wrappers may use the prefix
 * too (the audit-log example reads `LALLY_AUDIT_FILE`), and warning about their names taught operators
 * to ignore the warning.
 */
import { CONFIG_OPTIONS, type ConfigOption } from './options.js';
import { suggest } from './suggest.js';
import type { LallyConfig } from './types.js';

const BY_ENV = new Map<string, ConfigOption>(CONFIG_OPTIONS.map((o) => [o.env, o]));

export interface EnvLayer {
  /** Raw text by field (unset ones included: the caller skips them). */
  readonly values: ReadonlyMap<keyof LallyConfig, string>;
  readonly warnings: readonly string[];
}

export function readConfigEnv(env: NodeJS.ProcessEnv): EnvLayer {
  const values = new Map<keyof LallyConfig, string>();
  const warnings: string[] = [];
  for (const [name, text] of Object.entries(env)) {
    if (!name.startsWith('LALLY_') || text === undefined) continue;
    const option = BY_ENV.get(name);
    if (option === undefined) {
      const hint = suggest(name, [...BY_ENV.keys()], 'LALLY_');
      if (hint !== undefined)
        warnings.push(`unknown environment variable ${name} ignored (did you mean ${hint}?)`);
      continue;
    }
    values.set(option.key, text);
  }
  return { values, warnings };
}
