import type { Version } from '../clock/hlc.js';
import type { ValueInput } from '../kv/value-input.js';

/** Operation names as upstream writes them in its AOF and passes them to hooks. */
export type AofOp = 'ADD' | 'REMOVE';

/** One write as the AOF stores it. A REMOVE leaves a tombstone; its value is ''. */
export interface AofRecord {
  readonly op: AofOp;
  readonly key: string;
  readonly value: string;
  readonly version: Version;
}

/**
 * A record as the write path hands it to the AOF: the value may still be its UTF-8 bytes (valid only
 * during the append, which copies them). Encoded exactly as the AofRecord with the decoded value.
 */
export interface AofWrite {
  readonly op: AofOp;
  readonly key: string;
  readonly value: ValueInput;
  readonly version: Version;
}
