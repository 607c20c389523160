/**
 * After the heal: reads every checked key from every node (POST /batch of GETs, each node answering at
 * its read quorum: 1 means its own data) until all nodes agree on every key or time is up. A key's
 * convergence time runs from the later of the heal and the end of its last write until the poll from
 * which on all nodes gave the same answer (value and timestamp), so it is quantized by the poll period.
 */
import type { FinalState, NodeValue } from './checkers.js';
import { type BatchItem, batchGet } from './http.js';

const CHUNK = 1000;

/**
 * A node's answer as evidence: `success` is (value or absence); `partial` only when it found a value
 * (a read that missed its quorum and found nothing proves nothing); anything else is no answer.
 */
export function nodeValueOf(item: BatchItem | undefined): NodeValue | undefined {
  if (item === undefined) return undefined;
  const found = item.value !== null && item.value !== undefined;
  if (item.status === 'success' || (item.status === 'partial' && found)) {
    return { found, value: item.value ?? null, timestamp: item.timestamp ?? null };
  }
  return undefined;
}

async function readAll(url: string, keys: readonly string[]): Promise<(NodeValue | undefined)[]> {
  const out: (NodeValue | undefined)[] = [];
  for (let i = 0; i < keys.length; i += CHUNK) {
    const part = keys.slice(i, i + CHUNK);
    const items = await batchGet(url, part, 10_000);
    for (let j = 0; j < part.length; j++) {
      out.push(nodeValueOf(items?.[j]));
    }
  }
  return out;
}

const same = (a: NodeValue | undefined, b: NodeValue | undefined) =>
  a !== undefined &&
  b !== undefined &&
  a.found === b.found &&
  a.value === b.value &&
  a.timestamp === b.timestamp;

export interface ConvergenceOptions {
  urls: readonly string[];
  /** The checked keys and when each was last written (ms), read again at each poll. */
  keys(): ReadonlyMap<string, number>;
  healedAtMs: number;
  /** Polls go on until this resolves to true and then all agree, or `deadlineMs()` passes. */
  writersDone(): boolean;
  deadlineMs(): number;
  everyMs: number;
  /**
   * Poll while the clients still write (true), or only once they stopped. At read quorum 1 the polls
   * are local reads; above it every poll is a quorum read of every key, which would take the
   * cluster's capacity from the clients (and repair as it reads).
   */
  duringLoad: boolean;
}

export interface ConvergenceResult {
  keys: number;
  /** Keys on which the nodes disagreed at the first poll after the heal. */
  divergentAtHeal: number;
  converged: number;
  notConverged: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  /** From the heal until every key agreed on every node (null: not within the wait). */
  allAgreedMs: number | null;
  polls: number;
  pollEveryMs: number;
  final: FinalState;
}

function quantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

export async function waitForConvergence(opts: ConvergenceOptions): Promise<ConvergenceResult> {
  const agreedSince = new Map<string, number>();
  let divergentAtHeal = -1;
  let polls = 0;
  let allAgreedMs: number | null = null;
  let final: Map<string, (NodeValue | undefined)[]> = new Map();
  let keys: [string, number][] = [];
  while (!opts.duringLoad && !opts.writersDone()) await new Promise((r) => setTimeout(r, 50));
  for (;;) {
    const done = opts.writersDone();
    keys = [...opts.keys()];
    const names = keys.map(([k]) => k);
    const startedMs = Date.now();
    const perNode = await Promise.all(opts.urls.map((url) => readAll(url, names)));
    polls++;
    final = new Map();
    let divergent = 0;
    names.forEach((key, i) => {
      const values = perNode.map((node) => node[i]);
      final.set(key, values);
      if (values.every((v) => same(v, values[0]))) {
        if (!agreedSince.has(key)) agreedSince.set(key, startedMs);
      } else {
        agreedSince.delete(key);
        divergent++;
      }
    });
    if (divergentAtHeal < 0) divergentAtHeal = divergent;
    if (done && divergent === 0) {
      allAgreedMs = Date.now() - opts.healedAtMs;
      break;
    }
    if (done && Date.now() > opts.deadlineMs()) break;
    await new Promise((r) => setTimeout(r, Math.max(0, opts.everyMs - (Date.now() - startedMs))));
  }
  const times: number[] = [];
  for (const [key, lastWriteMs] of keys) {
    const since = agreedSince.get(key);
    if (since !== undefined) times.push(Math.max(0, since - Math.max(opts.healedAtMs, lastWriteMs)));
  }
  times.sort((a, b) => a - b);
  return {
    keys: keys.length,
    divergentAtHeal: Math.max(0, divergentAtHeal),
    converged: times.length,
    notConverged: keys.length - times.length,
    p50Ms: quantile(times, 0.5),
    p99Ms: quantile(times, 0.99),
    maxMs: times.length === 0 ? null : times[times.length - 1]!,
    allAgreedMs,
    polls,
    pollEveryMs: opts.everyMs,
    final,
  };
}
