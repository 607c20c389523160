/**
 * One PeerChannel per peer address, made on first use and reused by every caller (membership,
 * replication, reads). The wiring closes a peer's channel when the member leaves or is forgotten.
 */
import { ErrorCodes, LallyError } from '../errors.js';
import { DEFAULT_PEER_SETTINGS, type PeerSettings } from './channel-options.js';
import { PeerChannel } from './peer-channel.js';
import { INSECURE, type RpcSecurity } from './rpc-security.js';

// host:port, the host a name, an IPv4 address or a bracketed IPv6 address.
const ADDRESS = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/;

export function isPeerAddress(address: string): boolean {
  const match = ADDRESS.exec(address);
  if (match === null) return false;
  const port = Number(match[1]);
  return port >= 1 && port <= 65535;
}

export class PeerPool {
  readonly #channels = new Map<string, PeerChannel>();
  readonly #settings: PeerSettings;
  readonly #security: RpcSecurity;
  #closed = false;

  constructor(settings: PeerSettings = DEFAULT_PEER_SETTINGS, security: RpcSecurity = INSECURE) {
    this.#settings = settings;
    this.#security = security;
  }

  /** The channel to `address`, made on first use. */
  get(address: string): PeerChannel {
    const existing = this.#channels.get(address);
    if (existing !== undefined) return existing;
    if (this.#closed) throw new LallyError(ErrorCodes.SHUTTING_DOWN, 'the peer pool is closed');
    if (!isPeerAddress(address)) {
      throw new LallyError(ErrorCodes.INVALID_FIELD, `'${address}' is not a peer address (host:port)`);
    }
    const channel = new PeerChannel(address, this.#settings, this.#security);
    this.#channels.set(address, channel);
    return channel;
  }

  has(address: string): boolean {
    return this.#channels.has(address);
  }

  get size(): number {
    return this.#channels.size;
  }

  close(address: string): void {
    this.#channels.get(address)?.close();
    this.#channels.delete(address);
  }

  closeAll(): void {
    this.#closed = true;
    for (const channel of this.#channels.values()) channel.close();
    this.#channels.clear();
  }
}
