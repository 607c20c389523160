/** The merged, validated configuration of one daemon. Every field is documented in docs/config.md. */
export type FsyncPolicy = 'always' | 'everysec' | 'no';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface LallyConfig {
  /** The YAML file that was read, if any. */
  readonly configPath: string | undefined;
  /** Wipe the data directory's AOF before start (upstream `fresh`). */
  readonly fresh: boolean;
  /** Replace the data with the content of this file before start (upstream `replay_log`). */
  readonly replayLog: string | undefined;
  /** `host:port` of a seed node's gRPC endpoint, to join its cluster (upstream `seed_node`). */
  readonly seedNode: string | undefined;
  /** How long a join through the seed is retried before the start fails. */
  readonly joinTimeoutMs: number;
  /** How long the data transfer of a join or restart may take before the start fails. */
  readonly transferTimeoutMs: number;
  /** Bind address for HTTP and gRPC. */
  readonly host: string;
  readonly httpPort: number;
  readonly grpcPort: number;
  readonly readQuorum: number;
  readonly writeQuorum: number;
  /** Replicas of each key; undefined: every node holds every key (as upstream). */
  readonly replicationFactor: number | undefined;
  /** The gRPC `host:port` peers dial; undefined: see `advertisedAddress` (src/config/advertise.ts). */
  readonly advertise: string | undefined;
  /** Number of shard worker threads. */
  readonly shards: number;
  readonly dataDir: string;
  readonly logLevel: LogLevel;
  /** Keep an append-only file at all (false: a pure in-memory cache). */
  readonly aof: boolean;
  readonly aofFsync: FsyncPolicy;
  /** How often (ms) buffered AOF records are written out (upstream `aof_flush_interval`). */
  readonly aofFlushInterval: number;
  /** A segment smaller than this (bytes) is never rewritten. */
  readonly aofRewriteMinSize: number;
  /** Rewrite when the segment has grown this many percent past its size after the last rewrite. */
  readonly aofRewritePercentage: number;
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
  readonly maxBodyBytes: number;
  readonly maxBatchOps: number;
  /** How long a request body may take to arrive once its head has (0: no bound but uWS's 10 s idle cut). */
  readonly bodyTimeoutMs: number;
  /** ESM module paths of write hooks, resolved against the config file's folder (or the cwd). */
  readonly hooks: readonly string[];
  /** How long a graceful shutdown may take before the daemon forces its exit. */
  readonly shutdownTimeoutMs: number;
  /** How long a request may wait for another shard's answer before it fails with 504. */
  readonly hopTimeoutMs: number;
  /** Cluster: how long a write (read) waits for its quorum before answering `partial`. */
  readonly quorumTimeoutMs: number;
  /** Cluster: bytes of hints kept for unreachable replicas (0: no hinted handoff). */
  readonly hintMaxBytes: number;
  /** Cluster: how long a hint is kept before it is dropped. */
  readonly hintMaxAgeMs: number;
  /** Cluster: a replicated version further ahead of the local clock than this is refused. */
  readonly maxClockSkewMs: number;
  /** API bearer tokens (auth_token and the lines of auth_token_file); undefined: the API is open. */
  readonly authToken: readonly string[] | undefined;
  readonly authTokenFile: string | undefined;
  /** GET /metrics needs no token. */
  readonly metricsOpen: boolean;
  /** Cluster secrets (cluster_secret, then the lines of cluster_secret_file); the first signs. */
  readonly clusterSecret: readonly string[] | undefined;
  readonly clusterSecretFile: string | undefined;
  /** PEM files: this node's certificate and key (HTTPS, gRPC TLS), and the CA of the peers (mTLS). */
  readonly tlsCert: string | undefined;
  readonly tlsKey: string | undefined;
  readonly tlsCa: string | undefined;
  /** Cluster: between two background anti-entropy rounds (0: none). */
  readonly antiEntropyIntervalMs: number;
  /** Cluster: keys one anti-entropy round repairs at most. */
  readonly antiEntropyMaxKeys: number;
  /** How long a tombstone is kept before it is collected; also the longest a node may be away. */
  readonly tombstoneGraceMs: number;
  /** Event-loop turns a shard polls its rings before sleeping on its doorbell (see docs/rings.md). */
  readonly ringIdleTurns: number;
  /** Per-operation counters and latency histograms of the shards (GET /metrics); off for comparisons. */
  readonly shardMetrics: boolean;
}

/** Where a config value came from: used to name it in validation errors. */
export type ConfigSource = 'default' | 'file' | 'env' | 'flag';
