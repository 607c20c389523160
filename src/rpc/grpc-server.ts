/**
 * The node's gRPC server: binds `host:port` (port 0 picks a free port, reported by `port`), serves the
 * services it is given, and shuts down gracefully (running calls may finish, bounded) or at once.
 */
import {
  type Server as GrpcServer,
  type handleUnaryCall,
  Server,
  type ServerOptions,
  type ServerUnaryCall,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { ErrorCodes, LallyError } from '../errors.js';
import { DEFAULT_PEER_SETTINGS, formatAddress, type PeerSettings, serverOptions } from './channel-options.js';
import { toStatusError } from './rpc-errors.js';
import { INSECURE, type RpcSecurity, serverCredentials, verifyingInterceptor } from './rpc-security.js';

export interface RpcServerOptions {
  readonly host: string;
  readonly port: number;
  readonly settings?: PeerSettings;
  /** TLS and the cluster secret (rpc-security.ts); insecure without. */
  readonly security?: RpcSecurity;
  /** Where refused calls are logged (with a cluster secret). */
  readonly logger?: Logger;
}

export class RpcServer {
  readonly #server: GrpcServer;
  readonly #host: string;
  readonly #requestedPort: number;
  #port: number | undefined;
  #stopped = false;
  #noDelayServers = 0;
  readonly #security: RpcSecurity;

  constructor(opts: RpcServerOptions) {
    this.#security = opts.security ?? INSECURE;
    const options: ServerOptions = serverOptions(opts.settings ?? DEFAULT_PEER_SETTINGS);
    if (this.#security.secrets.length > 0) {
      if (opts.logger === undefined)
        throw new LallyError(ErrorCodes.INTERNAL, 'a cluster secret needs a logger');
      options.interceptors = [verifyingInterceptor(this.#security.secrets, opts.logger)];
    }
    this.#server = new Server(options);
    this.#host = opts.host;
    this.#requestedPort = opts.port;
  }

  addService(service: ServiceDefinition, implementation: UntypedServiceImplementation): void {
    this.#server.addService(service, implementation);
  }

  /** Binds and starts serving; resolves with the bound port. */
  listen(): Promise<number> {
    const address = formatAddress(this.#host, this.#requestedPort);
    return new Promise((resolve, reject) => {
      this.#server.bindAsync(address, serverCredentials(this.#security), (error, port) => {
        if (error) {
          reject(
            new LallyError(ErrorCodes.CONFIG, `cannot bind the gRPC port ${address}: ${error.message}`, {
              cause: error,
            }),
          );
          return;
        }
        this.#port = port;
        this.#noDelayServers += noDelayOnAccept(this.#server);
        resolve(port);
      });
    });
  }

  /** The listening http2 servers whose connections have Nagle's algorithm off (1 per bound address). */
  get noDelayServers(): number {
    return this.#noDelayServers;
  }

  /** The bound port (after listen). */
  get port(): number {
    if (this.#port === undefined) throw new LallyError(ErrorCodes.INTERNAL, 'the gRPC server is not bound');
    return this.#port;
  }

  get address(): string {
    return formatAddress(this.#host, this.port);
  }

  /**
   * Stops accepting calls and lets running ones finish for up to `graceMs`, then cuts the rest (a
   * long-lived stream would otherwise hold the shutdown forever).
   */
  shutdown(graceMs = 2000): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    this.#stopped = true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#server.forceShutdown();
        resolve();
      }, graceMs);
      this.#server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Cuts every connection now (kill -9 as peers see it, minus the process exit). */
  forceShutdown(): void {
    this.#stopped = true;
    this.#server.forceShutdown();
  }
}

/**
 * A unary handler from a function: its result is the answer, a throw (or rejection) the error status
 * (rpc-errors.ts), so no handler can crash the node or leave a call unanswered by throwing.
 */
export function unaryHandler<Req, Res>(
  fn: (request: Req, call: ServerUnaryCall<Req, Res>) => Res | Promise<Res>,
): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    let result: Res | Promise<Res>;
    try {
      result = fn(call.request, call);
    } catch (error) {
      callback(toStatusError(error), null);
      return;
    }
    Promise.resolve(result).then(
      (value) => callback(null, value),
      (error: unknown) => callback(toStatusError(error), null),
    );
  };
}

/**
 * Turns Nagle's algorithm off on the server's accepted connections, as grpc-js does on its client
 * connections (transport.ts) but not on its server's: a replica's small acks and read answers would
 * otherwise wait behind the client's delayed ACK (up to 40 ms on Linux) once a few are in flight,
 * which showed as a 13 ms p90 / 47 ms p99 on quorum writes between nodes on one host. grpc-js keeps
 * its http2 servers in a private map; if a version of it changes that, nothing is patched and the
 * count says so (tested).
 */
export function noDelayOnAccept(server: GrpcServer): number {
  const servers = (server as unknown as { http2Servers?: Map<NodeEventEmitter, unknown> }).http2Servers;
  if (!(servers instanceof Map)) return 0;
  let patched = 0;
  for (const http2Server of servers.keys()) {
    if (patchedServers.has(http2Server)) continue;
    patchedServers.add(http2Server);
    http2Server.on('connection', (socket: { setNoDelay?: (on: boolean) => void }) =>
      socket.setNoDelay?.(true),
    );
    patched++;
  }
  return patched;
}

interface NodeEventEmitter {
  on(event: string, listener: (...args: never[]) => void): unknown;
}

const patchedServers = new WeakSet<object>();
