/**
 * THE option table: every configuration option, once. The flag parser, the YAML key map, the
 * environment map, validation, `--help` and docs/config.md are all derived from it, so a new option is
 * one entry here (plus its field in `LallyConfig`).
 */
import { availableParallelism, homedir } from 'node:os';
import type { LallyConfig } from './types.js';

export type OptionGroup =
  | 'General'
  | 'Server'
  | 'Security'
  | 'Cluster'
  | 'Storage'
  | 'Limits'
  | 'Hooks'
  | 'Logging';

/** The order of the groups in `--help` and in docs/config.md. */
export const OPTION_GROUPS: readonly OptionGroup[] = [
  'General',
  'Server',
  'Security',
  'Cluster',
  'Storage',
  'Limits',
  'Hooks',
  'Logging',
];

/**
 * How a raw value (a flag's text, an environment string, a YAML scalar) becomes a typed value.
 * - `integer`: a whole number within `min`..`max`.
 * - `bytes`: as `integer`, and text may carry a K, M or G suffix (powers of 1024).
 * - `path`: a string, resolved against the config file's folder (file) or the cwd (flags, env).
 * - `paths`: a list of `path`s (YAML list, repeated flag, or comma-separated text).
 * - `strings`: a list of strings, given as `paths` are (no item may contain a comma).
 */
export type OptionKind = 'boolean' | 'integer' | 'bytes' | 'string' | 'enum' | 'path' | 'paths' | 'strings';

/** A typed config value, before the merged record is checked and handed out as `LallyConfig`. */
export type ConfigValue = boolean | number | string | readonly string[] | undefined;

/** What a computed default may depend on: values already merged, and the process environment. */
export interface DefaultContext {
  readonly values: Readonly<Partial<Record<keyof LallyConfig, ConfigValue>>>;
  readonly env: NodeJS.ProcessEnv;
}

/** One configuration option. `key` is the `LallyConfig` field; names in the other spellings are explicit. */
export interface ConfigOption {
  readonly key: keyof LallyConfig;
  /** Canonical flag name without dashes, kebab-case. `--flag_name` is accepted too. */
  readonly flag: string;
  /** Key in lally.yml (snake_case), or undefined when the file cannot set it. */
  readonly yaml: string | undefined;
  readonly env: string;
  readonly group: OptionGroup;
  readonly kind: OptionKind;
  /** Shown in `--help` after the flag, e.g. `<port>`. Empty for booleans. */
  readonly placeholder: string;
  readonly values?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  /** Optional options may be unset: `undefined` is a valid value, and an empty flag value clears them. */
  readonly optional?: boolean;
  /** A boolean whose `--no-<flag>` form is worth showing in `--help`. */
  readonly negatable?: boolean;
  /** Dependencies of a computed default must come earlier in the table. */
  readonly default: ConfigValue | ((ctx: DefaultContext) => ConfigValue);
  /** The default as users read it (help, docs): stable across machines. */
  readonly defaultText: string;
  readonly description: string;
  /** A secret (a token): messages never show its value. */
  readonly secret?: boolean;
  /** A check beyond the kind's own: returns what the value must be, or undefined when it is fine. */
  readonly check?: (value: ConfigValue) => string | undefined;
}

/** Flags that are not configuration: they make `loadConfig` answer with text instead. */
export interface MetaFlag {
  readonly flag: 'help' | 'version';
  readonly short: string;
  readonly description: string;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const PORT = { min: 1, max: 65535 } as const;
export const MAX_SHARDS = 1024;
/** Shortest API token or cluster secret accepted (`openssl rand -hex 32` makes 64). */
export const MIN_SECRET_LENGTH = 16;
/** Longest accepted: src/http/auth-guard.ts compares tokens padded to this length. */
export const MAX_SECRET_LENGTH = 256;

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
// A loose IPv6 shape; the bind itself is the final judge.
const IPV6 = /^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(?:%[\w.]+)?$/;

export function isHost(text: string): boolean {
  return IPV4.test(text) || IPV6.test(text) || HOSTNAME.test(text);
}

/** `host:port` or `[ipv6]:port`, as upstream's `seed_node`. */
export function isHostPort(text: string): boolean {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (!match) return false;
  const host = match[1] ?? match[2] ?? '';
  const port = Number(match[3]);
  return (
    (match[1] === undefined ? IPV4.test(host) || HOSTNAME.test(host) : IPV6.test(host)) &&
    port >= 1 &&
    port <= 65535
  );
}

/** `$XDG_DATA_HOME/lally/node-<grpcPort>`, else `~/.local/share/lally/node-<grpcPort>`: one per node on a host. */
export function defaultDataDir(env: NodeJS.ProcessEnv, grpcPort: number, homeDir: string): string {
  const xdg = env.XDG_DATA_HOME;
  // The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
  const base = xdg?.startsWith('/') ? xdg : `${homeDir}/.local/share`;
  return `${base.replace(/\/+$/, '')}/lally/node-${grpcPort}`;
}

const TABLE = [
  {
    key: 'configPath',
    flag: 'config',
    yaml: undefined,
    env: 'LALLY_CONFIG',
    group: 'General',
    kind: 'path',
    placeholder: '<path>',
    optional: true,
    default: undefined, // loadConfig looks for ./lally.yml itself
    defaultText: './lally.yml if present',
    description: "YAML configuration file; it must exist when named (--config '' reads none).",
  },
  // Server
  {
    key: 'host',
    flag: 'host',
    yaml: 'host',
    env: 'LALLY_HOST',
    group: 'Server',
    kind: 'string',
    placeholder: '<address>',
    default: '0.0.0.0',
    defaultText: '0.0.0.0',
    description: 'Bind address for HTTP and gRPC.',
    check: (v) => (typeof v === 'string' && isHost(v) ? undefined : 'an IP address or a host name'),
  },
  {
    key: 'httpPort',
    flag: 'http-port',
    yaml: 'http_port',
    env: 'LALLY_HTTP_PORT',
    group: 'Server',
    kind: 'integer',
    placeholder: '<port>',
    ...PORT,
    default: 3000,
    defaultText: '3000',
    description: 'Port of the HTTP API.',
  },
  {
    key: 'grpcPort',
    flag: 'grpc-port',
    yaml: 'grpc_port',
    env: 'LALLY_GRPC_PORT',
    group: 'Server',
    kind: 'integer',
    placeholder: '<port>',
    min: 0,
    max: 65535,
    default: 50071,
    defaultText: '50071',
    description:
      'Port of the gRPC server that peers talk to (0: a free port, logged at start; give the data dir explicitly then).',
  },
  {
    key: 'shards',
    flag: 'shards',
    yaml: 'shards',
    env: 'LALLY_SHARDS',
    group: 'Server',
    kind: 'integer',
    placeholder: '<n>',
    min: 1,
    max: MAX_SHARDS,
    default: () => Math.min(availableParallelism(), MAX_SHARDS),
    defaultText: 'os.availableParallelism()',
    description: `Number of shard worker threads (1 to ${MAX_SHARDS}).`,
  },
  {
    key: 'shutdownTimeoutMs',
    flag: 'shutdown-timeout-ms',
    yaml: 'shutdown_timeout_ms',
    env: 'LALLY_SHUTDOWN_TIMEOUT_MS',
    group: 'Server',
    kind: 'integer',
    placeholder: '<ms>',
    min: 0,
    max: 3_600_000,
    default: 10_000,
    defaultText: '10000',
    description: 'How long a graceful shutdown may take before the daemon forces its exit.',
  },
  {
    key: 'hopTimeoutMs',
    flag: 'hop-timeout-ms',
    yaml: 'hop_timeout_ms',
    env: 'LALLY_HOP_TIMEOUT_MS',
    group: 'Server',
    kind: 'integer',
    placeholder: '<ms>',
    min: 10,
    max: 3_600_000,
    default: 5000,
    defaultText: '5000',
    description:
      "How long a request may wait for another shard's answer before it fails with 504 (LALLY_ERR_TIMEOUT).",
  },
  {
    key: 'ringIdleTurns',
    flag: 'ring-idle-turns',
    yaml: 'ring_idle_turns',
    env: 'LALLY_RING_IDLE_TURNS',
    group: 'Server',
    kind: 'integer',
    placeholder: '<n>',
    min: 0,
    max: 100_000,
    default: 0,
    defaultText: '0',
    description:
      'Event-loop turns a shard keeps polling its rings before it sleeps on its doorbell: lower hop latency, more CPU when idle.',
  },
  // Security (docs/security.md)
  {
    key: 'authToken',
    flag: 'auth-token',
    yaml: 'auth_token',
    env: 'LALLY_AUTH_TOKEN',
    group: 'Security',
    kind: 'strings',
    placeholder: '<token...>',
    optional: true,
    secret: true,
    default: undefined,
    defaultText: 'none (the API is open)',
    description:
      'Bearer tokens the HTTP API accepts (Authorization: Bearer <token>); several allow a rotation. Every route but /livez and /readyz needs one.',
    check: (v) => checkSecrets(v),
  },
  {
    key: 'authTokenFile',
    flag: 'auth-token-file',
    yaml: 'auth_token_file',
    env: 'LALLY_AUTH_TOKEN_FILE',
    group: 'Security',
    kind: 'path',
    placeholder: '<path>',
    optional: true,
    default: undefined,
    defaultText: 'none',
    description: 'File of more API tokens, one a line (read at start; # starts a comment).',
  },
  {
    key: 'metricsOpen',
    flag: 'metrics-open',
    yaml: 'metrics_open',
    env: 'LALLY_METRICS_OPEN',
    group: 'Security',
    kind: 'boolean',
    placeholder: '',
    default: false,
    defaultText: 'false',
    description: 'Serve GET /metrics without a token even when auth_token is set.',
  },
  {
    key: 'clusterSecret',
    flag: 'cluster-secret',
    yaml: 'cluster_secret',
    env: 'LALLY_CLUSTER_SECRET',
    group: 'Security',
    kind: 'strings',
    placeholder: '<secret...>',
    optional: true,
    secret: true,
    default: undefined,
    defaultText: 'none (any node may join)',
    description:
      'Shared secret of the cluster: every gRPC call carries an HMAC of it, and calls without a valid one are refused. The first signs; all are accepted (rotation).',
    check: (v) => checkSecrets(v),
  },
  {
    key: 'clusterSecretFile',
    flag: 'cluster-secret-file',
    yaml: 'cluster_secret_file',
    env: 'LALLY_CLUSTER_SECRET_FILE',
    group: 'Security',
    kind: 'path',
    placeholder: '<path>',
    optional: true,
    default: undefined,
    defaultText: 'none',
    description: 'File of cluster secrets, one a line, used after those of cluster_secret.',
  },
  {
    key: 'tlsCert',
    flag: 'tls-cert',
    yaml: 'tls_cert',
    env: 'LALLY_TLS_CERT',
    group: 'Security',
    kind: 'path',
    placeholder: '<path>',
    optional: true,
    default: undefined,
    defaultText: 'none (plain HTTP and gRPC)',
    description:
      'PEM certificate (chain) of this node: with tls_key, the API is HTTPS only and gRPC uses TLS.',
  },
  {
    key: 'tlsKey',
    flag: 'tls-key',
    yaml: 'tls_key',
    env: 'LALLY_TLS_KEY',
    group: 'Security',
    kind: 'path',
    placeholder: '<path>',
    optional: true,
    default: undefined,
    defaultText: 'none',
    description: 'PEM private key of tls_cert.',
  },
  {
    key: 'tlsCa',
    flag: 'tls-ca',
    yaml: 'tls_ca',
    env: 'LALLY_TLS_CA',
    group: 'Security',
    kind: 'path',
    placeholder: '<path>',
    optional: true,
    default: undefined,
    defaultText: "none (the system's roots)",
    description:
      'PEM CA certificates for gRPC: peers must present a certificate it signed (mutual TLS), and peers are verified against it.',
  },
  {
    key: 'shardMetrics',
    flag: 'shard-metrics',
    yaml: 'shard_metrics',
    env: 'LALLY_SHARD_METRICS',
    group: 'Server',
    kind: 'boolean',
    placeholder: '',
    negatable: true,
    default: true,
    defaultText: 'true',
    description:
      'Count every key operation and its latency in shared memory for GET /metrics; --no-shard-metrics leaves them out (to measure their cost).',
  },
  // Cluster
  {
    key: 'seedNode',
    flag: 'seed-node',
    yaml: 'seed_node',
    env: 'LALLY_SEED_NODE',
    group: 'Cluster',
    kind: 'string',
    placeholder: '<host:port>',
    optional: true,
    default: undefined,
    defaultText: 'none (start a new cluster)',
    description:
      "gRPC address of a member to join the cluster through (the seed's --grpc-port). Unset: the node rejoins the members remembered in <data-dir>/members.json, or starts a cluster of one.",
    check: (v) => (v === undefined || (typeof v === 'string' && isHostPort(v)) ? undefined : 'host:port'),
  },
  {
    key: 'joinTimeoutMs',
    flag: 'join-timeout-ms',
    yaml: 'join_timeout_ms',
    env: 'LALLY_JOIN_TIMEOUT_MS',
    group: 'Cluster',
    kind: 'integer',
    placeholder: '<ms>',
    min: 0,
    max: 3_600_000,
    default: 15_000,
    defaultText: '15000',
    description:
      'How long a join through seed_node is retried (with back-off) before the start fails with exit code 1.',
  },
  {
    key: 'transferTimeoutMs',
    flag: 'transfer-timeout-ms',
    yaml: 'transfer_timeout_ms',
    env: 'LALLY_TRANSFER_TIMEOUT_MS',
    group: 'Cluster',
    kind: 'integer',
    placeholder: '<ms>',
    min: 100,
    max: 86_400_000,
    default: 300_000,
    defaultText: '300000',
    description:
      'How long a joining or restarted node may take to receive its data from the members before it serves; past it the start fails with exit code 1. If no member can send, the node starts anyway with a warning.',
  },
  {
    key: 'readQuorum',
    flag: 'read-quorum',
    yaml: 'read_quorum',
    env: 'LALLY_READ_QUORUM',
    group: 'Cluster',
    kind: 'integer',
    placeholder: '<n>',
    min: 1,
    max: 1024,
    default: 1,
    defaultText: '1',
    description: 'Nodes (this one included) that must answer a read.',
  },
  {
    key: 'writeQuorum',
    flag: 'write-quorum',
    yaml: 'write_quorum',
    env: 'LALLY_WRITE_QUORUM',
    group: 'Cluster',
    kind: 'integer',
    placeholder: '<n>',
    min: 1,
    max: 1024,
    default: 1,
    defaultText: '1',
    description: 'Nodes (this one included) that must acknowledge a write.',
  },
  {
    key: 'replicationFactor',
    flag: 'replication-factor',
    yaml: 'replication_factor',
    env: 'LALLY_REPLICATION_FACTOR',
    group: 'Cluster',
    kind: 'integer',
    placeholder: '<n>',
    min: 1,
    max: 1024,
    optional: true,
    default: undefined,
    defaultText: 'none (every node holds every key, as upstream)',
    description:
      'Replicas of each key: the first N distinct live nodes clockwise from the key on the hash ring. read_quorum and write_quorum may not exceed it.',
  },
  {
    key: 'quorumTimeoutMs',
    flag: 'quorum-timeout-ms',
    yaml: 'quorum_timeout_ms',
    env: 'LALLY_QUORUM_TIMEOUT_MS',
    group: 'Cluster',
    kind: 'integer',
    placeholder: '<ms>',
    min: 10,
    max: 600_000,
    default: 1000,
    defaultText: '1000',
    description:
      "How long a write waits for write_quorum replicas' acknowledgements (and a read for read_quorum answers) before it answers `partial` with the count it reached. Must be below hop_timeout_ms.",
  },
  {
    key: 'hintMaxBytes',
    flag: 'hint-max-bytes',
    yaml: 'hint_max_bytes',
    env: 'LALLY_HINT_MAX_BYTES',
    group: 'Cluster',
    kind: 'bytes',
    placeholder: '<bytes>',
    min: 0,
    max: 64 * GiB,
    default: 256 * MiB,
    defaultText: '256M',
    description:
      'Bytes of hints (writes a replica missed, kept until it is reachable again) a node keeps, over all its peers; past it new hints are dropped. The pending hints are held in memory too. 0 turns hinted handoff off.',
  },
  {
    key: 'hintMaxAgeMs',
    flag: 'hint-max-age-ms',
    yaml: 'hint_max_age_ms',
    env: 'LALLY_HINT_MAX_AGE_MS',
    group: 'Cluster',
    kind: 'integer',
    placeholder: '<ms>',
    min: 1000,
    max: 30 * 24 * 3600 * 1000,
    default: 3 * 3600 * 1000,
    defaultText: '10800000',
    description:
      'How long (ms; the default is 3 h) a hint is kept for a replica that stays unreachable before it is dropped.',
  },
  {
    key: 'maxClockSkewMs',
    flag: 'max-clock-skew-ms',
    yaml: 'max_clock_skew_ms',
    env: 'LALLY_MAX_CLOCK_SKEW_MS',
    group: 'Cluster',
    kind: 'integer',
    placeholder: '<ms>',
    min: 1,
    max: 365 * 24 * 3600 * 1000,
    default: 60_000,
    defaultText: '60000',
    description:
      "A replicated write whose version is more than this ahead of this node's clock is refused (LALLY_ERR_CLOCK_SKEW): a peer with a clock far ahead would otherwise win every later write and drag every clock along.",
  },
  {
    key: 'antiEntropyIntervalMs',
    flag: 'anti-entropy-interval-ms',
    yaml: 'anti_entropy_interval_ms',
    env: 'LALLY_ANTI_ENTROPY_INTERVAL_MS',
    group: 'Cluster',
    kind: 'integer',
    placeholder: '<ms>',
    min: 0,
    max: 24 * 3600 * 1000,
    default: 10_000,
    defaultText: '10000',
    description:
      "Between two anti-entropy rounds (each compares this node's hash tree with one peer's over the ranges they share and moves only the entries that differ; docs/convergence.md). 0 turns the background rounds off (a restarted node's catch-up still uses them).",
  },
  {
    key: 'antiEntropyMaxKeys',
    flag: 'anti-entropy-max-keys',
    yaml: 'anti_entropy_max_keys',
    env: 'LALLY_ANTI_ENTROPY_MAX_KEYS',
    group: 'Cluster',
    kind: 'integer',
    placeholder: '<n>',
    min: 1,
    max: 100_000_000,
    default: 100_000,
    defaultText: '100000',
    description:
      'Keys one background anti-entropy round repairs at most (pulled plus pushed); the rest waits for the next round. Bounds the bytes a round moves (about this many records).',
  },
  {
    key: 'tombstoneGraceMs',
    flag: 'tombstone-grace-ms',
    yaml: 'tombstone_grace_ms',
    env: 'LALLY_TOMBSTONE_GRACE_MS',
    group: 'Cluster',
    kind: 'integer',
    placeholder: '<ms>',
    min: 1000,
    max: 3650 * 24 * 3600 * 1000,
    default: 10 * 24 * 3600 * 1000,
    defaultText: '864000000',
    description:
      "How long (ms; the default is 10 days, as Cassandra's gc_grace_seconds) a delete's tombstone is kept before it is collected (from memory, and from the AOF at its next compaction). A node whose data dir was last up longer ago than this refuses to start (it could bring deleted keys back): wipe its data dir and let it join afresh.",
  },
  {
    key: 'advertise',
    flag: 'advertise',
    yaml: 'advertise',
    env: 'LALLY_ADVERTISE',
    group: 'Cluster',
    kind: 'string',
    placeholder: '<host:port>',
    optional: true,
    default: undefined,
    defaultText: 'the bind host with grpc_port; with a wildcard host, the address the seed sees',
    description:
      "The gRPC host:port peers dial to reach this node. Unset: host:grpc_port when host is a specific address; when host is a wildcard (0.0.0.0, ::), the address the seed saw this node's connection come from, with this node's grpc_port, decided at join.",
    check: (v) => (v === undefined || (typeof v === 'string' && isHostPort(v)) ? undefined : 'host:port'),
  },
  // Storage
  {
    key: 'dataDir',
    flag: 'data-dir',
    yaml: 'data_dir',
    env: 'LALLY_DATA_DIR',
    group: 'Storage',
    kind: 'path',
    placeholder: '<path>',
    // Computed after grpcPort (above in this table), so that two nodes on one host never share it.
    default: ({ values, env }) => defaultDataDir(env, values.grpcPort as number, homedirOf(env)),
    defaultText: '$XDG_DATA_HOME/lally/node-<grpc-port>, else ~/.local/share/lally/node-<grpc-port>',
    description: 'Directory of the AOF segments and the node lock.',
  },
  {
    key: 'fresh',
    flag: 'fresh',
    yaml: 'fresh',
    env: 'LALLY_FRESH',
    group: 'Storage',
    kind: 'boolean',
    placeholder: '',
    default: false,
    defaultText: 'false',
    description: 'Wipe the AOF at start instead of replaying it.',
  },
  {
    key: 'replayLog',
    flag: 'replay-log',
    yaml: 'replay_log',
    env: 'LALLY_REPLAY_LOG',
    group: 'Storage',
    kind: 'path',
    placeholder: '<path>',
    optional: true,
    default: undefined,
    defaultText: 'none',
    description: 'Replace the data with this AOF file (upstream text format too) before start.',
  },
  {
    key: 'aof',
    flag: 'aof',
    yaml: 'aof',
    env: 'LALLY_AOF',
    group: 'Storage',
    kind: 'boolean',
    placeholder: '',
    negatable: true,
    default: true,
    defaultText: 'true',
    description: 'Keep an append-only file; --no-aof makes a pure in-memory cache.',
  },
  {
    key: 'aofFsync',
    flag: 'aof-fsync',
    yaml: 'aof_fsync',
    env: 'LALLY_AOF_FSYNC',
    group: 'Storage',
    kind: 'enum',
    placeholder: '<policy>',
    values: ['always', 'everysec', 'no'],
    default: 'everysec',
    defaultText: 'everysec',
    description: 'When to fsync the AOF: always (before acknowledging), everysec, or no (the OS decides).',
  },
  {
    key: 'aofFlushInterval',
    flag: 'aof-flush-interval',
    yaml: 'aof_flush_interval',
    env: 'LALLY_AOF_FLUSH_INTERVAL',
    group: 'Storage',
    kind: 'integer',
    placeholder: '<ms>',
    min: 1,
    max: 60_000,
    default: 100,
    defaultText: '100',
    description: 'How often (ms) buffered AOF records are written out.',
  },
  {
    key: 'aofRewriteMinSize',
    flag: 'aof-rewrite-min-size',
    yaml: 'aof_rewrite_min_size',
    env: 'LALLY_AOF_REWRITE_MIN_SIZE',
    group: 'Storage',
    kind: 'bytes',
    placeholder: '<bytes>',
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    default: 64 * MiB,
    defaultText: '64M',
    description: 'An AOF segment smaller than this is never rewritten.',
  },
  {
    key: 'aofRewritePercentage',
    flag: 'aof-rewrite-percentage',
    yaml: 'aof_rewrite_percentage',
    env: 'LALLY_AOF_REWRITE_PERCENTAGE',
    group: 'Storage',
    kind: 'integer',
    placeholder: '<percent>',
    min: 0,
    max: 100_000,
    default: 100,
    defaultText: '100',
    description: 'Rewrite a segment grown this many percent since its last rewrite; 0 never does.',
  },
  // Limits
  {
    key: 'maxKeyBytes',
    flag: 'max-key-bytes',
    yaml: 'max_key_bytes',
    env: 'LALLY_MAX_KEY_BYTES',
    group: 'Limits',
    kind: 'bytes',
    placeholder: '<bytes>',
    min: 1,
    max: MiB,
    default: 8 * KiB,
    defaultText: '8K',
    description: 'Largest key accepted, in UTF-8 bytes.',
  },
  {
    key: 'maxValueBytes',
    flag: 'max-value-bytes',
    yaml: 'max_value_bytes',
    env: 'LALLY_MAX_VALUE_BYTES',
    group: 'Limits',
    kind: 'bytes',
    placeholder: '<bytes>',
    min: 1,
    max: 512 * MiB,
    default: MiB,
    defaultText: '1M',
    description: 'Largest value accepted, in UTF-8 bytes.',
  },
  {
    key: 'maxBodyBytes',
    flag: 'max-body-bytes',
    yaml: 'max_body_bytes',
    env: 'LALLY_MAX_BODY_BYTES',
    group: 'Limits',
    kind: 'bytes',
    placeholder: '<bytes>',
    min: 1,
    max: GiB,
    default: 8 * MiB,
    defaultText: '8M',
    description: 'Largest HTTP request body accepted.',
  },
  {
    key: 'maxBatchOps',
    flag: 'max-batch-ops',
    yaml: 'max_batch_ops',
    env: 'LALLY_MAX_BATCH_OPS',
    group: 'Limits',
    kind: 'integer',
    placeholder: '<n>',
    min: 1,
    max: 1_000_000,
    default: 10_000,
    defaultText: '10000',
    description: 'Most operations accepted in one batch request.',
  },
  {
    key: 'bodyTimeoutMs',
    flag: 'body-timeout-ms',
    yaml: 'body_timeout_ms',
    env: 'LALLY_BODY_TIMEOUT_MS',
    group: 'Limits',
    kind: 'integer',
    placeholder: '<ms>',
    min: 0,
    max: 3_600_000,
    default: 30_000,
    defaultText: '30000',
    description:
      'Longest a request body may take to arrive once its head has; then 408 and the connection is closed. 0: no bound (uWS still cuts a connection silent for 10 s).',
  },
  // Hooks
  {
    key: 'hooks',
    flag: 'hooks',
    yaml: 'hooks',
    env: 'LALLY_HOOKS',
    group: 'Hooks',
    kind: 'paths',
    placeholder: '<module...>',
    default: [],
    defaultText: 'none',
    description: 'ESM module paths of write hooks, run in order (repeat, or separate with commas).',
  },
  // Logging
  {
    key: 'logLevel',
    flag: 'log-level',
    yaml: 'log_level',
    env: 'LALLY_LOG_LEVEL',
    group: 'Logging',
    kind: 'enum',
    placeholder: '<level>',
    values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    default: 'info',
    defaultText: 'info',
    description: 'Least severe level that is logged.',
  },
] as const satisfies readonly ConfigOption[];

export const CONFIG_OPTIONS: readonly ConfigOption[] = TABLE;

export const META_FLAGS: readonly MetaFlag[] = [
  { flag: 'help', short: 'h', description: 'Show this help and exit.' },
  { flag: 'version', short: 'V', description: 'Print the version and exit.' },
];

/** Tokens and secrets: long enough not to be guessed, and free of spaces (they travel in headers). */
function checkSecrets(value: ConfigValue): string | undefined {
  if (!Array.isArray(value)) return undefined;
  for (const item of value as readonly string[]) {
    if (item.length < MIN_SECRET_LENGTH || item.length > MAX_SECRET_LENGTH || !/^[\x21-\x7e]+$/.test(item)) {
      return `tokens of ${MIN_SECRET_LENGTH} to ${MAX_SECRET_LENGTH} printable ASCII characters without spaces`;
    }
  }
  return undefined;
}

function homedirOf(env: NodeJS.ProcessEnv): string {
  return env.HOME || homedir();
}

/** The name used for an option in messages: its YAML key, or its flag when the file cannot set it. */
export function optionName(option: ConfigOption): string {
  return option.yaml ?? option.flag;
}

// Compile-time check that the table covers every LallyConfig field (and nothing else).
type Covered = (typeof TABLE)[number]['key'];
type Missing = Exclude<keyof LallyConfig, Covered>;
const _everyFieldHasAnOption: [Missing] extends [never] ? true : Missing = true;
void _everyFieldHasAnOption;
