/**
 * Who may talk to this node's gRPC port (docs/security.md).
 *
 * Cluster secret: every call carries `lally-cluster-auth: v1.<ms>.<hmac>`, the HMAC-SHA256 under the
 * secret of the method's path and the sender's clock. The secret itself never travels; a signature
 * is good for one method and for SIGNATURE_WINDOW_MS either side of the receiver's clock. The server
 * checks it in an interceptor before any handler (membership, replication, reads, snapshots) runs,
 * comparing in constant time against every accepted secret (a rotation accepts old and new at once),
 * and answers UNAUTHENTICATED otherwise, logging the peer's address (rate-limited).
 *
 * TLS: the node's certificate serves its port and is presented when it calls peers; with a CA, peers
 * must present a certificate it signed (mutual TLS), and servers are verified against it.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  type ChannelCredentials,
  credentials,
  InterceptingCall,
  type Interceptor,
  Metadata,
  ServerCredentials,
  ServerInterceptingCall,
  type ServerInterceptor,
  status,
} from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { LallyConfig } from '../config/types.js';
import { ErrorCodes, LallyError } from '../errors.js';
import { RateLimitedLogs } from '../log/rate-limited.js';
import { ERROR_CODE_TRAILER } from './rpc-errors.js';

export const CLUSTER_AUTH_HEADER = 'lally-cluster-auth';
/** How far a signature's clock may be from the receiver's (clock skew plus transit). */
export const SIGNATURE_WINDOW_MS = 5 * 60_000;
const VERSION = 'v1';
const DIGEST_HEX_LENGTH = 64;

export interface RpcTls {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** Peers must present a certificate this CA signed; servers are verified against it. */
  readonly ca: Buffer | undefined;
}

export interface RpcSecurity {
  /** Accepted secrets; the first signs outgoing calls. Empty: calls are not signed nor checked. */
  readonly secrets: readonly string[];
  readonly tls: RpcTls | undefined;
}

export const INSECURE: RpcSecurity = Object.freeze({ secrets: [], tls: undefined });

/** The node's gRPC security from its config; the PEM files are read now (a missing one: LALLY_ERR_CONFIG). */
export function rpcSecurityOf(
  config: Pick<LallyConfig, 'clusterSecret' | 'tlsCert' | 'tlsKey' | 'tlsCa'>,
): RpcSecurity {
  const read = (path: string, name: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new LallyError(
        ErrorCodes.CONFIG,
        `${name}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code}`,
        { cause: error },
      );
    }
  };
  const { tlsCert, tlsKey, tlsCa } = config;
  return {
    secrets: config.clusterSecret ?? [],
    tls:
      tlsCert === undefined || tlsKey === undefined
        ? undefined
        : {
            cert: read(tlsCert, 'tls_cert'),
            key: read(tlsKey, 'tls_key'),
            ca: tlsCa === undefined ? undefined : read(tlsCa, 'tls_ca'),
          },
  };
}

function mac(secret: string, path: string, ms: string): string {
  return createHmac('sha256', secret).update(`lally-cluster-${VERSION}\n${path}\n${ms}`).digest('hex');
}

/** The header value that signs a call to `path` at `now`. */
export function signCall(secret: string, path: string, now: number = Date.now()): string {
  const ms = String(now);
  return `${VERSION}.${ms}.${mac(secret, path, ms)}`;
}

export type SignatureProblem = 'missing' | 'malformed' | 'stale' | 'wrong';

/** Why a call's signature is refused, or undefined when one of `secrets` made it. */
export function checkSignature(
  value: unknown,
  path: string,
  secrets: readonly string[],
  now: number = Date.now(),
): SignatureProblem | undefined {
  if (value === undefined) return 'missing';
  if (typeof value !== 'string') return 'malformed';
  const [version, ms, hex, extra] = value.split('.');
  if (version !== VERSION || ms === undefined || hex === undefined || extra !== undefined) return 'malformed';
  if (!/^\d{1,16}$/.test(ms) || hex.length !== DIGEST_HEX_LENGTH || !/^[0-9a-f]+$/.test(hex)) {
    return 'malformed';
  }
  if (Math.abs(now - Number(ms)) > SIGNATURE_WINDOW_MS) return 'stale';
  const presented = Buffer.from(hex, 'hex');
  let accepted = false;
  for (const secret of secrets) {
    accepted = timingSafeEqual(Buffer.from(mac(secret, path, ms), 'hex'), presented) || accepted;
  }
  return accepted ? undefined : 'wrong';
}

const REASONS: Readonly<Record<SignatureProblem, string>> = {
  missing: 'the call carries no cluster signature (is cluster_secret set on the caller?)',
  malformed: 'the cluster signature is malformed',
  stale: `the cluster signature is more than ${SIGNATURE_WINDOW_MS / 1000} s from this node's clock`,
  wrong: 'the cluster signature was made with another secret',
};

/** Signs every outgoing call with the first secret. */
export function signingInterceptor(secret: string): Interceptor {
  return (options, nextCall) =>
    new InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set(CLUSTER_AUTH_HEADER, signCall(secret, options.method_definition.path));
        next(metadata, listener);
      },
    });
}

/** Refuses every incoming call whose signature is not one of `secrets`', before its handler runs. */
export function verifyingInterceptor(secrets: readonly string[], logger: Logger): ServerInterceptor {
  const refusals = new RateLimitedLogs(logger, 10_000);
  return (method, call) =>
    new ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, mdNext) {
            const problem = checkSignature(metadata.get(CLUSTER_AUTH_HEADER)[0], method.path, secrets);
            if (problem === undefined) {
              mdNext(metadata);
              return;
            }
            refusals.log(
              'warn',
              problem,
              { peer: call.getPeer(), method: method.path, reason: problem },
              `refused a gRPC call from ${call.getPeer()}: ${REASONS[problem]}`,
            );
            const trailer = new Metadata();
            trailer.set(ERROR_CODE_TRAILER, ErrorCodes.UNAUTHENTICATED);
            call.sendStatus({ code: status.UNAUTHENTICATED, details: REASONS[problem], metadata: trailer });
          },
        });
      },
    });
}

export function serverCredentials(security: RpcSecurity): ServerCredentials {
  const tls = security.tls;
  if (tls === undefined) return ServerCredentials.createInsecure();
  return ServerCredentials.createSsl(
    tls.ca ?? null,
    [{ cert_chain: tls.cert, private_key: tls.key }],
    tls.ca !== undefined,
  );
}

export function channelCredentials(security: RpcSecurity): ChannelCredentials {
  const tls = security.tls;
  if (tls === undefined) return credentials.createInsecure();
  return credentials.createSsl(tls.ca ?? null, tls.key, tls.cert);
}
