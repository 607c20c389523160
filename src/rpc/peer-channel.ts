/**
 * One connection to one peer, reused by every call to it: membership probes, replication streams,
 * reads and snapshot transfers all share its HTTP/2 connection. grpc-js reconnects by itself with
 * exponential back-off (channel-options.ts) when the peer goes away and comes back. Every unary call
 * has a deadline; failures are LallyErrors (rpc-errors.ts).
 */
import {
  type CallOptions,
  Client,
  type ClientDuplexStream,
  type ClientReadableStream,
  type connectivityState,
  type MethodDefinition,
} from '@grpc/grpc-js';
import { ErrorCodes, LallyError } from '../errors.js';
import { channelOptions, DEFAULT_PEER_SETTINGS, type PeerSettings } from './channel-options.js';
import { fromCallError } from './rpc-errors.js';
import { channelCredentials, INSECURE, type RpcSecurity, signingInterceptor } from './rpc-security.js';

const METHOD_NAME = /[^/]+$/;

function nameOf(method: { readonly path: string }): string {
  return METHOD_NAME.exec(method.path)?.[0] ?? method.path;
}

export class PeerChannel {
  readonly address: string;
  readonly #client: Client;
  #closed = false;

  constructor(
    address: string,
    settings: PeerSettings = DEFAULT_PEER_SETTINGS,
    security: RpcSecurity = INSECURE,
  ) {
    this.address = address;
    const secret = security.secrets[0];
    this.#client = new Client(address, channelCredentials(security), {
      ...channelOptions(settings),
      ...(secret === undefined ? {} : { interceptors: [signingInterceptor(secret)] }),
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The connection's state; `connect` starts connecting when idle. */
  state(connect = false): connectivityState {
    return this.#client.getChannel().getConnectivityState(connect);
  }

  /** A unary call that fails with LALLY_ERR_PEER_TIMEOUT unless answered within `timeoutMs`. */
  unary<Req, Res>(method: MethodDefinition<Req, Res>, request: Req, timeoutMs: number): Promise<Res> {
    if (this.#closed) return Promise.reject(this.#closedError(nameOf(method)));
    if (!(timeoutMs > 0)) {
      return Promise.reject(new LallyError(ErrorCodes.INTERNAL, `a call needs a deadline, not ${timeoutMs}`));
    }
    const options: CallOptions = { deadline: Date.now() + timeoutMs };
    return new Promise((resolve, reject) => {
      this.#client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        options,
        (error, response) => {
          if (error) reject(fromCallError(error, this.address, nameOf(method)));
          else resolve(response as Res);
        },
      );
    });
  }

  /** A long-lived bidirectional stream (no deadline: keepalive notices a dead peer). */
  duplex<Req, Res>(method: MethodDefinition<Req, Res>): ClientDuplexStream<Req, Res> {
    if (this.#closed) throw this.#closedError(nameOf(method));
    return this.#client.makeBidiStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
    );
  }

  /** A server stream, bounded by `timeoutMs` in all (a snapshot transfer). */
  serverStream<Req, Res>(
    method: MethodDefinition<Req, Res>,
    request: Req,
    timeoutMs: number,
  ): ClientReadableStream<Res> {
    if (this.#closed) throw this.#closedError(nameOf(method));
    return this.#client.makeServerStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      request,
      { deadline: Date.now() + timeoutMs },
    );
  }

  /** Wraps an error of a stream of this channel. */
  callError(error: unknown, method: { readonly path: string }): LallyError {
    return fromCallError(error, this.address, nameOf(method));
  }

  /** Closes the connection; calls in flight fail with LALLY_ERR_PEER_UNAVAILABLE. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#client.close();
  }

  #closedError(method: string): LallyError {
    return new LallyError(ErrorCodes.PEER_UNAVAILABLE, `${method} to ${this.address}: the channel is closed`);
  }
}
