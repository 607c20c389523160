/**
 * The client side of a chaos run: loops that write (and read) through randomly chosen nodes until told
 * to stop, recording every operation and how it ended. Each workload has its own key prefix, so the
 * checkers can judge each on its own.
 */
import { callJson, type Outcome } from './http.js';

export type Phase = 'setup' | 'before' | 'fault' | 'healed';

export interface OpRecord {
  workload: 'unique' | 'lww' | 'delete' | 'ryw';
  kind: 'put' | 'get' | 'delete';
  key: string;
  /** The value written (puts), or read (gets). */
  value?: string | null;
  node: number;
  phase: Phase;
  startMs: number;
  endMs: number;
  outcome: Outcome;
  achieved?: number;
  required?: number;
  timestamp?: string | null;
  /** For a RYW read: the value the same client just wrote. */
  expected?: string;
  /** For a RYW read: whether the write before it met its quorum. */
  writeMet?: boolean;
}

export interface WorkloadContext {
  urls: readonly string[];
  phase(): Phase;
  stopped(): boolean;
  record(op: OpRecord): void;
  timeoutMs: number;
  random(): number;
}

function pick(ctx: WorkloadContext, not?: number): number {
  const n = ctx.urls.length;
  let i = Math.floor(ctx.random() * n);
  if (i === not && n > 1) i = (i + 1) % n;
  return i;
}

export async function kvCall(
  ctx: WorkloadContext,
  workload: OpRecord['workload'],
  kind: OpRecord['kind'],
  key: string,
  node: number,
  value?: string,
): Promise<OpRecord> {
  const phase = ctx.phase();
  const startMs = Date.now();
  const method = kind === 'put' ? 'PUT' : kind === 'delete' ? 'DELETE' : 'GET';
  const answer = await callJson(
    `${ctx.urls[node]}/kv/${encodeURIComponent(key)}`,
    { method, ...(value === undefined ? {} : { body: value }) },
    ctx.timeoutMs,
  );
  const op: OpRecord = {
    workload,
    kind,
    key,
    node,
    phase,
    startMs,
    endMs: Date.now(),
    outcome: answer.outcome,
    value: kind === 'get' ? (answer.body?.value ?? null) : value,
  };
  if (answer.body?.quorum !== undefined) {
    op.achieved = answer.body.quorum.achieved;
    op.required = answer.body.quorum.required;
  }
  if (answer.body !== undefined) op.timestamp = answer.body.timestamp ?? null;
  ctx.record(op);
  return op;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A client whose node refused waits this long before its next request (as a real client backs off). */
const REFUSED_BACKOFF_MS = 100;

/** (a) Distinct keys, one writer each: `u-<client>-<seq>`. */
export async function uniqueKeysClient(ctx: WorkloadContext, client: number): Promise<void> {
  for (let seq = 0; !ctx.stopped(); seq++) {
    const op = await kvCall(ctx, 'unique', 'put', `u-${client}-${seq}`, pick(ctx), `v-${client}-${seq}`);
    if (op.outcome === 'refused') await pause(REFUSED_BACKOFF_MS);
  }
}

/** (b) A few registers written by several clients; every value written is unique. */
export async function lwwClient(ctx: WorkloadContext, client: number, registers: number): Promise<void> {
  for (let seq = 0; !ctx.stopped(); seq++) {
    const key = `r-${Math.floor(ctx.random() * registers)}`;
    const op = await kvCall(ctx, 'lww', 'put', key, pick(ctx), `c${client}-s${seq}`);
    if (op.outcome === 'refused') await pause(REFUSED_BACKOFF_MS);
  }
}

export function deleteKeys(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `d-${i}`);
}

/**
 * (c) Keys written in setup; deleted one by one while the fault lasts, never written again. Clients
 * given the same `cursor` share the keys (so one stuck on a paused node does not stop the deletes).
 */
export async function deleteClient(
  ctx: WorkloadContext,
  keys: readonly string[],
  cursor: { next: number },
): Promise<void> {
  while (!ctx.stopped() && cursor.next < keys.length) {
    if (ctx.phase() !== 'fault') {
      await pause(50);
      continue;
    }
    await kvCall(ctx, 'delete', 'delete', keys[cursor.next++]!, pick(ctx));
    await pause(30);
  }
}

/** (d) Write a private key through one node, read it back at once through another. */
export async function readYourWritesClient(ctx: WorkloadContext, client: number): Promise<void> {
  for (let seq = 0; !ctx.stopped(); seq++) {
    const key = `y-${client}-${seq % 8}`;
    const value = `y${client}-s${seq}`;
    const node = pick(ctx);
    const write = await kvCall(ctx, 'ryw', 'put', key, node, value);
    if (write.outcome === 'refused' || write.outcome === 'timeout' || write.outcome === 'error') {
      await pause(REFUSED_BACKOFF_MS);
      continue;
    }
    const read = await kvCall(ctx, 'ryw', 'get', key, pick(ctx, node));
    read.expected = value;
    read.writeMet = write.outcome === 'success';
  }
}
