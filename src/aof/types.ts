import type { Version } from '../clock/hlc.js';

/** Operation names as upstream writes them in its AOF and passes them to hooks. */
export type AofOp = 'ADD' | 'REMOVE';

/** One write as the AOF stores it. A REMOVE leaves a tombstone; its value is ''. */
export interface AofRecord {
  readonly op: AofOp;
  readonly key: string;
  readonly value: string;
  readonly version: Version;
}
