import type { HopLink } from '../hop/hop-link.js';

/** A shard's connections to the other threads: where it sends, and how it hears. */
export interface ShardTransport {
  /** links[t] carries messages from this shard to thread t (undefined for itself). */
  readonly links: readonly (HopLink | undefined)[];
  /** Starts delivering incoming messages; `from` is the sending thread's id. */
  start(onMessage: (from: number, message: Uint8Array) => void): void;
  close(): Promise<void> | void;
  /** Figures for /stats (optional: in-memory transports in tests have none). */
  stats?(): Record<string, number>;
}
