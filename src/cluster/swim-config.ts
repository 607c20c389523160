/**
 * Timings of the failure detector. The defaults are HashiCorp memberlist's LAN profile (a probe each
 * second, 500 ms for a direct ack, 3 indirect probes, gossip to 3 members every 200 ms, a full state
 * exchange every 30 s) except the suspicion multiplier: 3 instead of 4, so that a killed member is dead
 * everywhere about 5 s after it stopped (issue 8). A killed member is suspected at the first probe of
 * it that fails and declared dead by every member one suspicion timeout later (3 s below 10 members);
 * the time until someone first probes it is the variable part (docs/cluster-design.md).
 */
import { ErrorCodes, LallyError } from '../errors.js';

export interface SwimConfig {
  /** Time between probes, and the deadline of one probe (direct and indirect). */
  readonly probeIntervalMs: number;
  /** How long to wait for a direct ack before asking others to probe. */
  readonly probeTimeoutMs: number;
  /** How many members are asked to probe indirectly. */
  readonly indirectChecks: number;
  /** Suspicion timeout = suspicionMult * max(1, log10(n)) * probeIntervalMs. */
  readonly suspicionMult: number;
  /** Each update is piggybacked retransmitMult * ceil(log10(n + 1)) times. */
  readonly retransmitMult: number;
  /** Time between gossip rounds (0 turns them off: updates then ride on probes only). */
  readonly gossipIntervalMs: number;
  /** Members a gossip round sends to. */
  readonly gossipNodes: number;
  /** At most this many updates ride on one message. */
  readonly maxPiggyback: number;
  /** Time between full state exchanges with a random live member (0: off). */
  readonly pushPullIntervalMs: number;
  /** Time between attempts to reach a random dead member, which heal partitions (0: off). */
  readonly reconnectIntervalMs: number;
  /** How long a leave waits for its members to take the news. */
  readonly leaveTimeoutMs: number;
}

export const DEFAULT_SWIM_CONFIG: SwimConfig = Object.freeze({
  probeIntervalMs: 1000,
  probeTimeoutMs: 500,
  indirectChecks: 3,
  suspicionMult: 3,
  retransmitMult: 4,
  gossipIntervalMs: 200,
  gossipNodes: 3,
  maxPiggyback: 16,
  pushPullIntervalMs: 30_000,
  reconnectIntervalMs: 2000,
  leaveTimeoutMs: 1000,
});

const POSITIVE: readonly (keyof SwimConfig)[] = [
  'probeIntervalMs',
  'probeTimeoutMs',
  'suspicionMult',
  'retransmitMult',
  'maxPiggyback',
  'leaveTimeoutMs',
];

/** The defaults with overrides, checked: a bad timing is a config error at start, not a flapping cluster. */
export function resolveSwimConfig(overrides: Partial<SwimConfig> = {}): SwimConfig {
  const config: SwimConfig = { ...DEFAULT_SWIM_CONFIG, ...overrides };
  for (const [key, value] of Object.entries(config)) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new LallyError(
        ErrorCodes.CONFIG,
        `membership setting ${key} must be a non-negative integer, not ${value}`,
      );
    }
  }
  for (const key of POSITIVE) {
    if (config[key] === 0)
      throw new LallyError(ErrorCodes.CONFIG, `membership setting ${key} must be above 0`);
  }
  if (config.probeTimeoutMs >= config.probeIntervalMs) {
    throw new LallyError(
      ErrorCodes.CONFIG,
      `the probe timeout (${config.probeTimeoutMs} ms) must be below the probe interval (${config.probeIntervalMs} ms): indirect probes need the rest`,
    );
  }
  return config;
}

/** memberlist's suspicion timeout: longer in larger clusters, where news takes more rounds to spread. */
export function suspicionTimeoutMs(config: SwimConfig, clusterSize: number): number {
  const scale = Math.max(1, Math.log10(Math.max(1, clusterSize)));
  return Math.round(config.suspicionMult * scale * config.probeIntervalMs);
}
