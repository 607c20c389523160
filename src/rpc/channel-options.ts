/**
 * Connection settings between nodes, in one place: reconnect back-off, keepalive, message sizes, and
 * the deadlines calls get when the caller names none. docs/rpc.md explains the choices.
 */
import type { ChannelOptions, ServerOptions } from '@grpc/grpc-js';

export interface PeerSettings {
  /** First delay before reconnecting to a peer that went away; it grows 1.6x per failure, +-20% jitter. */
  readonly initialReconnectMs: number;
  /** The longest delay between reconnect attempts. */
  readonly maxReconnectMs: number;
  /** An idle connection is pinged this often; a peer silent for keepaliveTimeoutMs after a ping is gone. */
  readonly keepaliveMs: number;
  readonly keepaliveTimeoutMs: number;
  /** The largest message accepted (a batch, a snapshot page, one record with a large value). */
  readonly maxMessageBytes: number;
}

export const DEFAULT_PEER_SETTINGS: PeerSettings = Object.freeze({
  // grpc-js defaults are 1 s and 120 s: a restarted peer would wait up to two minutes for us to
  // notice. Membership probes every second, so reconnects are capped at a few probe intervals.
  initialReconnectMs: 100,
  maxReconnectMs: 5000,
  // A cut connection with no traffic (a stream between batches) is noticed within 15 s; SWIM notices
  // a dead peer sooner, and the wiring then closes its streams itself.
  keepaliveMs: 10_000,
  keepaliveTimeoutMs: 5000,
  maxMessageBytes: 64 * 1024 * 1024,
});

/**
 * The settings for a node whose values may be `maxValueBytes` long: one record with the largest key
 * and value must fit a message (a batch holds at least one record, whatever its size), with room for
 * the framing.
 */
export function peerSettingsFor(maxKeyBytes: number, maxValueBytes: number): PeerSettings {
  const needed = maxKeyBytes + maxValueBytes + 1024 * 1024;
  if (needed <= DEFAULT_PEER_SETTINGS.maxMessageBytes) return DEFAULT_PEER_SETTINGS;
  return Object.freeze({ ...DEFAULT_PEER_SETTINGS, maxMessageBytes: needed });
}

/** Deadlines of calls whose caller passes none. Every unary call has one (peer-channel.ts). */
export const DEFAULT_DEADLINES = Object.freeze({
  /** Membership calls: under a probe interval. */
  membershipMs: 1000,
  /** A replica read for a quorum read or read repair. */
  readMs: 2000,
  /** A join (the seed merges and answers with its members). */
  joinMs: 5000,
});

export function channelOptions(settings: PeerSettings = DEFAULT_PEER_SETTINGS): ChannelOptions {
  return {
    'grpc.initial_reconnect_backoff_ms': settings.initialReconnectMs,
    'grpc.max_reconnect_backoff_ms': settings.maxReconnectMs,
    'grpc.keepalive_time_ms': settings.keepaliveMs,
    'grpc.keepalive_timeout_ms': settings.keepaliveTimeoutMs,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.max_receive_message_length': settings.maxMessageBytes,
    'grpc.max_send_message_length': settings.maxMessageBytes,
    // One channel per peer per pool, never shared with another pool in the process: several nodes in
    // one process (tests, benchmarks) must not share connections, or one's shutdown cuts another's.
    'grpc.use_local_subchannel_pool': 1,
    // No retries by the library: the callers (SWIM, the replication streams) have their own policy.
    'grpc.enable_retries': 0,
  };
}

export function serverOptions(settings: PeerSettings = DEFAULT_PEER_SETTINGS): ServerOptions {
  return {
    'grpc.keepalive_time_ms': settings.keepaliveMs,
    'grpc.keepalive_timeout_ms': settings.keepaliveTimeoutMs,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.max_receive_message_length': settings.maxMessageBytes,
    'grpc.max_send_message_length': settings.maxMessageBytes,
  };
}

/** `host:port`, with IPv6 hosts in brackets. */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}
