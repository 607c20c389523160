import type { AofOp } from '../aof/types.js';
import type { Version } from '../clock/hlc.js';

/** Where a write came from: a client of this node, or a peer replicating its own write. */
export type WriteOrigin = 'client' | 'peer';

/**
 * One write the engine committed: appended to the AOF (synced first with fsync always) and applied
 * to the store. Hooks and the replication feed subscribe to it; a write they see always happened.
 */
export interface CommittedWrite {
  readonly op: AofOp;
  readonly key: string;
  /** The new value for ADD; '' for REMOVE. */
  readonly value: string;
  readonly version: Version;
  readonly origin: WriteOrigin;
  /** The shard (worker thread) that owns the key. */
  readonly shard: number;
}

export type CommittedWriteListener = (write: CommittedWrite) => void;
