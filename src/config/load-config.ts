/**
 * loadConfig: flags > LALLY_* environment > lally.yml > defaults, merged and checked. It never prints
 * and never exits: the CLI entry does both, from the result.
 */
import { availableParallelism, homedir } from 'node:os';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { parseArgv } from './argv.js';
import { coerceValue, formatBytes, isUnset, type PathBase, showRaw } from './coerce.js';
import { readConfigEnv } from './config-env.js';
import { readConfigFile } from './config-file.js';
import { renderHelp } from './help.js';
import { CONFIG_OPTIONS, type ConfigOption, type ConfigValue, MAX_SHARDS, optionName } from './options.js';
import { readSecretFile } from './secret-files.js';
import type { ConfigSource, LallyConfig } from './types.js';
import { readVersion } from './version.js';

export type ConfigResult =
  | {
      readonly kind: 'run';
      readonly config: LallyConfig;
      readonly sources: Record<keyof LallyConfig, ConfigSource>;
      readonly warnings: string[];
    }
  | { readonly kind: 'help'; readonly text: string }
  | { readonly kind: 'version'; readonly text: string }
  | { readonly kind: 'error'; readonly errors: string[] };

/** The file `loadConfig` reads when neither --config nor LALLY_CONFIG names one. */
export const DEFAULT_CONFIG_FILE = 'lally.yml';

interface Layer {
  readonly source: Exclude<ConfigSource, 'default'>;
  readonly values: ReadonlyMap<keyof LallyConfig, unknown>;
  readonly base: PathBase;
  readonly origin: (option: ConfigOption) => string;
}

/** How messages name a file: relative to the cwd when it is inside it. */
function showPath(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

export async function loadConfig(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
): Promise<ConfigResult> {
  const flags = parseArgv(argv);
  if (flags.help) {
    const shards = `os.availableParallelism(), ${Math.min(availableParallelism(), MAX_SHARDS)} here`;
    return { kind: 'help', text: renderHelp(await readVersion(), new Map([['shards', shards]])) };
  }
  if (flags.version) return { kind: 'version', text: `lally ${await readVersion()}` };

  const errors: string[] = [...flags.errors];
  const warnings: string[] = [];
  const home = env.HOME || homedir();
  const cwdBase: PathBase = { dir: cwd, home };
  const environment = readConfigEnv(env);
  warnings.push(...environment.warnings);

  const layers: Layer[] = [
    { source: 'flag', values: flags.values, base: cwdBase, origin: (o) => `--${o.flag}` },
    { source: 'env', values: environment.values, base: cwdBase, origin: (o) => o.env },
  ];

  const values: Partial<Record<keyof LallyConfig, ConfigValue>> = {};
  const sources: Partial<Record<keyof LallyConfig, ConfigSource>> = {};
  /** Where each value came from, as messages say it. */
  const origins = new Map<keyof LallyConfig, string>();

  /** Resolve one option from `candidates` (highest precedence first), else its default. */
  const settle = (option: ConfigOption, candidates: readonly Layer[]): void => {
    for (const layer of candidates) {
      if (!layer.values.has(option.key)) continue;
      const raw = layer.values.get(option.key);
      const origin = layer.origin(option);
      if (layer.source === 'flag' ? option.optional && raw === '' : isUnset(raw)) {
        // An empty flag clears an optional option; None/null/empty in the file or env defers.
        if (layer.source !== 'flag') continue;
        values[option.key] = undefined;
      } else {
        const coerced = coerceValue(option, raw, layer.base);
        const problem = coerced.ok ? option.check?.(coerced.value) : coerced.expected;
        if (problem !== undefined) {
          const shown = option.secret ? 'a value that is not shown' : showRaw(raw);
          errors.push(`${optionName(option)}: must be ${problem}, got ${shown} (from ${origin})`);
        }
        values[option.key] = coerced.ok ? coerced.value : undefined;
      }
      sources[option.key] = layer.source;
      origins.set(option.key, origin);
      return;
    }
    const fallback = option.default;
    values[option.key] = typeof fallback === 'function' ? fallback({ values, env }) : fallback;
    sources[option.key] = 'default';
    origins.set(option.key, 'default');
  };

  // The config file's own path first: it decides which file is the third layer.
  const configOption = CONFIG_OPTIONS.find((o) => o.key === 'configPath')!;
  settle(configOption, layers);
  let configPath = values.configPath as string | undefined;
  const explicit = sources.configPath !== 'default';
  if (!explicit) configPath = resolve(cwd, DEFAULT_CONFIG_FILE);
  if (configPath !== undefined) {
    const shown = showPath(configPath, cwd);
    const file = await readConfigFile(configPath, shown);
    if (file.kind === 'read') {
      warnings.push(...file.warnings);
      layers.push({
        source: 'file',
        values: file.values,
        base: { dir: dirname(configPath), home },
        origin: () => shown,
      });
      values.configPath = configPath;
    } else if (file.kind === 'error') {
      errors.push(file.error);
    } else if (explicit) {
      errors.push(`config: file not found: ${configPath} (from ${origins.get('configPath')})`);
    } else {
      values.configPath = undefined; // no ./lally.yml: fine, defaults apply
    }
  }

  for (const option of CONFIG_OPTIONS) {
    if (option !== configOption) settle(option, layers);
  }
  await addSecretFiles(values, errors);
  checkTogether(values, origins, errors, warnings);

  if (errors.length > 0) return { kind: 'error', errors };
  // Every value was coerced and checked by its option's kind above, and the table covers every field.
  return {
    kind: 'run',
    config: values as unknown as LallyConfig,
    sources: sources as Record<keyof LallyConfig, ConfigSource>,
    warnings,
  };
}

/** Appends the tokens of auth_token_file and cluster_secret_file to auth_token and cluster_secret. */
async function addSecretFiles(
  values: Partial<Record<keyof LallyConfig, ConfigValue>>,
  errors: string[],
): Promise<void> {
  for (const [fileKey, listKey, name] of [
    ['authTokenFile', 'authToken', 'auth_token_file'],
    ['clusterSecretFile', 'clusterSecret', 'cluster_secret_file'],
  ] as const) {
    const path = values[fileKey];
    if (typeof path !== 'string') continue;
    const read = await readSecretFile(path, name);
    if (!read.ok) {
      errors.push(read.error);
      continue;
    }
    const inline = values[listKey];
    values[listKey] = [...(Array.isArray(inline) ? (inline as readonly string[]) : []), ...read.secrets];
  }
}

/** Rules that involve two options. */
function checkTogether(
  values: Partial<Record<keyof LallyConfig, ConfigValue>>,
  origins: ReadonlyMap<keyof LallyConfig, string>,
  errors: string[],
  warnings: string[],
): void {
  const from = (key: keyof LallyConfig, name: string): string => `${name} from ${origins.get(key)}`;
  if (values.fresh === true && values.replayLog !== undefined) {
    errors.push(
      `fresh: cannot be combined with replay_log, which replaces the data anyway (${from('fresh', 'fresh')}, ${from('replayLog', 'replay_log')})`,
    );
  }
  if (values.aof === false && values.replayLog !== undefined) {
    errors.push(
      `replay_log: needs the AOF, which it replaces and then replays; it cannot be combined with aof: false (${from('replayLog', 'replay_log')}, ${from('aof', 'aof')})`,
    );
  }
  if (values.httpPort !== undefined && values.httpPort === values.grpcPort) {
    errors.push(
      `http_port: must differ from grpc_port, both are ${values.httpPort} (${from('httpPort', 'http_port')}, ${from('grpcPort', 'grpc_port')})`,
    );
  }
  const factor = values.replicationFactor;
  if (typeof factor === 'number') {
    for (const [key, name] of [
      ['readQuorum', 'read_quorum'],
      ['writeQuorum', 'write_quorum'],
    ] as const) {
      const quorum = values[key];
      if (typeof quorum === 'number' && quorum > factor) {
        errors.push(
          `${name}: ${quorum} is above replication_factor ${factor}: a key has only ${factor} replicas to answer (${from(key, name)}, ${from('replicationFactor', 'replication_factor')})`,
        );
      }
    }
  }
  const quorumTimeout = values.quorumTimeoutMs;
  const hopTimeout = values.hopTimeoutMs;
  if (typeof quorumTimeout === 'number' && typeof hopTimeout === 'number' && quorumTimeout >= hopTimeout) {
    errors.push(
      `quorum_timeout_ms: ${quorumTimeout} must be below hop_timeout_ms ${hopTimeout}: a shard would give up on the quorum's answer before it comes (${from('quorumTimeoutMs', 'quorum_timeout_ms')}, ${from('hopTimeoutMs', 'hop_timeout_ms')})`,
    );
  }
  if ((values.tlsCert === undefined) !== (values.tlsKey === undefined)) {
    const [set, unset] = values.tlsCert === undefined ? ['tls_key', 'tls_cert'] : ['tls_cert', 'tls_key'];
    errors.push(`${set}: needs ${unset} too: a certificate and its private key go together`);
  }
  if (values.tlsCa !== undefined && values.tlsCert === undefined) {
    errors.push('tls_ca: needs tls_cert and tls_key: mutual TLS means this node presents a certificate too');
  }
  const body = values.maxBodyBytes;
  const value = values.maxValueBytes;
  if (typeof body === 'number' && typeof value === 'number' && body < value) {
    warnings.push(
      `max_body_bytes (${formatBytes(body)}) is below max_value_bytes (${formatBytes(value)}): values that large cannot be sent over HTTP`,
    );
  }
}
