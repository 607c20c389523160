/**
 * docs/config.md, rendered from the option table. test/config/render-docs.ts fails when the file and
 * the table differ. To regenerate after changing the table:
 *   npx tsc -p tsconfig.json && node dist/src/config/render-docs.js
 */
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CONFIG_OPTIONS, type ConfigOption, META_FLAGS, OPTION_GROUPS } from './options.js';

function cell(text: string): string {
  return text.replaceAll('|', '\\|');
}

function code(text: string | undefined): string {
  return text === undefined ? '' : `\`${text}\``;
}

function flagCell(option: ConfigOption): string {
  const flag = option.placeholder === '' ? `--${option.flag}` : `--${option.flag} ${option.placeholder}`;
  return option.negatable ? `${code(flag)}, ${code(`--no-${option.flag}`)}` : code(flag);
}

export function renderConfigDocs(): string {
  const out: string[] = [
    '# Configuration',
    '',
    '<!-- Generated from src/config/options.ts by src/config/render-docs.ts: edit the table there, then',
    '     run `npx tsc -p tsconfig.json && node dist/src/config/render-docs.js`. A test checks this file. -->',
    '',
    'Each option is taken from the first of these that sets it:',
    '',
    '1. its command-line flag (`--http-port 4001`; upstream spellings with underscores, `--http_port 4001`,',
    '   work too);',
    '2. its environment variable (`LALLY_HTTP_PORT=4001`; `LALLY_HOOKS`, `LALLY_AUTH_TOKEN` and',
    '   `LALLY_CLUSTER_SECRET` are comma-separated);',
    '3. the YAML file: `lally.yml` in the working directory if it exists, or the file named by `--config`',
    '   (then it must exist). Keys are snake_case as upstream (`http_port: 4001`);',
    '4. its default.',
    '',
    "In the file and in the environment, `None` (as upstream's sample file writes), `null`, `~` or an",
    'empty value leaves an option unset, so the next source decides. An empty flag value',
    '(`--seed-node ""`) clears an optional option. Relative paths in the file (`data_dir`, `replay_log`,',
    "`hooks`) are resolved against the file's folder; in flags and the environment, against the working",
    'directory. `~/` means the home directory. Sizes accept `K`, `M` and `G` suffixes (powers of 1024).',
    '',
    'Problems are reported all at once, one line each, naming the key and where its value came from, and',
    'the daemon exits with a non-zero status. An unknown key in the file is only a warning, and so is an',
    'unknown `LALLY_*` variable that looks like a misspelt option (`LALLY_HTTP_PROT`); other `LALLY_*`',
    'names are left to hooks and wrappers (`LALLY_AUDIT_FILE`) without a word. An unknown flag is an',
    'error. `fresh` together with `replay_log` is an error, as upstream.',
    '',
    'A flag takes its value after it or after `=` (`--http-port=4001`). A boolean flag alone means true;',
    '`--no-aof` or `--aof false` means false. A list flag (`--hooks a.js b.js`) takes every value up to',
    'the next flag, and repeating it adds to the list (a bare `--hooks` is an empty list, which clears',
    "the file's); any other repeated flag keeps its last value. Any other flag without its value",
    '(`--http-port` last, or followed by another flag) is an error, and so is an argument that is not a',
    'flag, or anything after `--`.',
    '',
    'Tokens and secrets (`auth_token`, `cluster_secret`) are never shown in messages or logs; keep them',
    'in `auth_token_file` and `cluster_secret_file` (mode 0600) rather than in flags, which `ps` shows.',
    'What each protects: [security.md](security.md).',
    '',
  ];
  for (const group of OPTION_GROUPS) {
    out.push(
      `## ${group}`,
      '',
      '| Flag | YAML key | Environment | Default | Meaning |',
      '|---|---|---|---|---|',
    );
    if (group === 'General') {
      for (const meta of META_FLAGS) {
        out.push(
          `| ${code(`-${meta.short}`)}, ${code(`--${meta.flag}`)} | | | | ${cell(meta.description)} |`,
        );
      }
    }
    for (const option of CONFIG_OPTIONS.filter((o) => o.group === group)) {
      const fields = [
        flagCell(option),
        code(option.yaml),
        code(option.env),
        /\s/.test(option.defaultText) ? option.defaultText : code(option.defaultText),
        option.values === undefined
          ? option.description
          : `${option.description} (${option.values.join(', ')})`,
      ];
      out.push(`| ${fields.map(cell).join(' | ')} |`);
    }
    out.push('');
  }
  return out.join('\n');
}

/** Where the docs page lives, from this module (src/config/ or dist/src/config/). */
export function configDocsPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const compiled = here.endsWith(join('dist', 'src', 'config'));
  const root = compiled ? join(here, '..', '..', '..') : join(here, '..', '..');
  return join(root, 'docs', 'config.md');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await writeFile(configDocsPath(), renderConfigDocs());
}
