/** Who may use the HTTP API, and over what (docs/security.md), from the node's config. */
import type { LallyConfig } from '../config/types.js';
import { type AuthCounters, METRICS_ROUTE, OPEN_ROUTES } from './auth-guard.js';

export interface HttpSecurity {
  /** Accepted bearer tokens; none: the API is open. */
  readonly tokens?: readonly string[];
  /** Route patterns served without a token (OPEN_ROUTES, and /metrics when metrics_open is set). */
  readonly openRoutes?: readonly string[];
  /** PEM files: the API is served over HTTPS only. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  readonly counters?: AuthCounters;
}

export function httpSecurityOf(
  config: Pick<LallyConfig, 'authToken' | 'metricsOpen' | 'tlsCert' | 'tlsKey'>,
  counters?: AuthCounters,
): HttpSecurity {
  const { tlsCert, tlsKey } = config;
  return {
    tokens: config.authToken,
    openRoutes: config.metricsOpen ? [...OPEN_ROUTES, METRICS_ROUTE] : OPEN_ROUTES,
    tls: tlsCert !== undefined && tlsKey !== undefined ? { certFile: tlsCert, keyFile: tlsKey } : undefined,
    counters,
  };
}
