/**
 * Safe defaults: a node that listens beyond this host with nothing asked of its callers says so at
 * start, loudly, with the way out (docs/security.md).
 */
import type { LallyConfig } from '../config/types.js';

/** Whether `host` only accepts connections from this machine. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** The warnings for a node's exposure: none when it binds a loopback address. */
export function exposureWarnings(
  config: Pick<LallyConfig, 'host' | 'authToken' | 'clusterSecret' | 'tlsCert'>,
): string[] {
  if (isLoopback(config.host)) return [];
  const warnings: string[] = [];
  if (config.authToken === undefined || config.authToken.length === 0) {
    warnings.push(
      `the HTTP API listens on ${config.host} and accepts requests without a token: anyone who can reach the port can read and write every key. ` +
        'Set one with --auth-token-file <file> (a line of `openssl rand -hex 32`), LALLY_AUTH_TOKEN or auth_token, or bind --host 127.0.0.1.',
    );
  }
  if (config.clusterSecret === undefined || config.clusterSecret.length === 0) {
    warnings.push(
      `the gRPC port listens on ${config.host} without a cluster secret: any process that reaches it can join the cluster, replicate and read. ` +
        'Set the same --cluster-secret-file <file> (or LALLY_CLUSTER_SECRET, cluster_secret) on every node.',
    );
  }
  return warnings;
}
