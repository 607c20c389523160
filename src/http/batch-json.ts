import { versionToRfc3339 } from '../clock/hlc.js';
import type { OpResult } from '../kv/key-value-service.js';
import type { BatchOp } from './request-parsing.js';

/** The RFC 3339 timestamp of an operation's result: the wall part of its version. */
export function timestampOf(result: OpResult): string | undefined {
  return result.version === undefined ? undefined : versionToRfc3339(result.version);
}

/** One operation's answer inside a /batch answer (see docs/api.md). */
export function batchItemJson(op: BatchOp, result: OpResult): string {
  const key = JSON.stringify(op.key);
  if (result.error !== undefined) {
    return `{"op":"${op.op}","status":"error","key":${key},"code":"${result.error.code}","message":${JSON.stringify(result.error.message)}}`;
  }
  const timestamp = timestampOf(result);
  const value = op.op === 'put' ? op.value : result.found ? result.value : undefined;
  const ts = result.found || op.op === 'put' ? timestamp : undefined;
  // As the REST routes answer: `partial` when fewer replicas answered than the quorum asks.
  const { required, achieved } = result.quorum;
  const status = achieved >= required ? 'success' : 'partial';
  return (
    `{"op":"${op.op}","status":"${status}","key":${key},"found":${op.op === 'put' ? true : result.found},` +
    `"value":${value === undefined ? 'null' : JSON.stringify(value)},"timestamp":${ts === undefined ? 'null' : JSON.stringify(ts)},` +
    `"quorum":{"required":${required},"achieved":${achieved}}}`
  );
}
