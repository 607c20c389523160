/**
 * The address peers dial to reach this node. `advertise` when set; else the bind host with the gRPC
 * port when the host names one interface; with a wildcard bind host (every interface) no address is
 * right for every peer, so it is left to the join: the seed answers with the address it saw the
 * joiner's connection come from, and the joiner uses that with its own gRPC port.
 */
import type { LallyConfig } from './types.js';

const WILDCARDS = new Set(['0.0.0.0', '::', '[::]', '0:0:0:0:0:0:0:0']);

export function isWildcardHost(host: string): boolean {
  return WILDCARDS.has(host);
}

/** `host:port`, with an IPv6 host in brackets. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The advertised gRPC address, or undefined when it is decided at join (a wildcard bind host). */
export function advertisedAddress(
  config: Pick<LallyConfig, 'advertise' | 'host' | 'grpcPort'>,
): string | undefined {
  if (config.advertise !== undefined) return config.advertise;
  return isWildcardHost(config.host) ? undefined : joinHostPort(config.host, config.grpcPort);
}
