/** The `--help` text, rendered from the option table. */
import { CONFIG_OPTIONS, type ConfigOption, META_FLAGS, OPTION_GROUPS } from './options.js';

const COLUMN = 30;

function flagColumn(option: ConfigOption): string {
  const names = option.negatable ? `--${option.flag}, --no-${option.flag}` : `--${option.flag}`;
  return option.placeholder === '' ? names : `${names} ${option.placeholder}`;
}

function row(left: string, right: string): string {
  const pad = left.length + 2 <= COLUMN ? ' '.repeat(COLUMN - left.length - 2) : `\n${' '.repeat(COLUMN)}`;
  return `  ${left}${pad}${right}`;
}

/** `machineDefaults` replaces a default text where the value depends on the machine, e.g. shards. */
export function renderHelp(
  version: string,
  machineDefaults: ReadonlyMap<string, string> = new Map(),
): string {
  const lines: string[] = [
    `lally ${version}: a distributed in-memory key-value database`,
    '',
    'Usage:',
    '  lally [options]',
    '  lally aof <check|repair|dump|export|import> ...',
    '  lally cluster-demo [--nodes N] [--base-port P] [--data-dir BASE] [--keep] [-- <node options>]',
    '                     a local cluster of N nodes (default 3) on 127.0.0.1; `lally cluster-demo --help`',
    '  lally <get|put|del|nodes|cluster|stats> ... [--url URL] [--token T] [--json]',
    '                     a client of a running node; `lally get --help`',
    '',
    'Each option is taken from its flag, else its LALLY_* environment variable, else the config file',
    '(lally.yml in the working directory, or --config), else its default. Flags may be spelt with',
    'underscores (--http_port). In the file, None, null, ~ or an empty value leaves an option unset.',
    'Sizes accept K, M and G suffixes (powers of 1024).',
  ];
  for (const group of OPTION_GROUPS) {
    lines.push('', `${group}:`);
    if (group === 'General') {
      for (const meta of META_FLAGS) lines.push(row(`-${meta.short}, --${meta.flag}`, meta.description));
    }
    for (const option of CONFIG_OPTIONS.filter((o) => o.group === group)) {
      const shownDefault = machineDefaults.get(option.flag) ?? option.defaultText;
      const where = [`default: ${shownDefault}`, `env: ${option.env}`];
      if (option.yaml !== undefined) where.push(`yaml: ${option.yaml}`);
      lines.push(row(flagColumn(option), option.description));
      lines.push(`${' '.repeat(COLUMN)}[${where.join('] [')}]`);
    }
  }
  lines.push(
    '',
    'Example (a second node on the same host, with its own ports and data directory):',
    '  lally --http-port 3001 --grpc-port 50072 --aof-fsync always',
    '',
  );
  return lines.join('\n');
}
