import type { BodySizes } from '../peers/local-server.js';
import { fixedValue, keyName } from '../workload/key-distribution.js';
import { preloadBodies, type RequestPlan } from '../workload/requests.js';

async function send(url: string, init?: RequestInit): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(60_000) });
  const text = await res.text();
  return { status: res.status, text };
}

/** Writes every key through POST /batch, a few requests in flight. Resolves with the seconds it took. */
export async function preload(
  baseUrl: string,
  keyIndexes: Iterable<number>,
  valueBytes: number,
  concurrency = 4,
): Promise<number> {
  const started = performance.now();
  const bodies = preloadBodies(keyIndexes, valueBytes);
  const worker = async () => {
    for (;;) {
      const next = bodies.next();
      if (next.done) return;
      const { status, text } = await send(`${baseUrl}/batch`, { method: 'POST', body: next.value });
      if (status !== 200) throw new Error(`preload: POST /batch answered ${status}: ${text.slice(0, 300)}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return (performance.now() - started) / 1000;
}

/**
 * Sizes of Lally's answers to the plan's kinds of request, so that the ceiling answers with bodies of
 * the same size (the cost of writing bytes is part of what is measured).
 */
export async function sampleBodySizes(
  baseUrl: string,
  valueBytes: number,
  plan: RequestPlan,
): Promise<BodySizes> {
  const key = keyName(0);
  const get = await send(`${baseUrl}/kv/${key}`);
  if (get.status !== 200)
    throw new Error(`GET /kv/${key} answered ${get.status} after the preload: ${get.text.slice(0, 200)}`);
  const put = await send(`${baseUrl}/kv/${key}`, { method: 'PUT', body: fixedValue(valueBytes) });
  if (put.status !== 200) throw new Error(`PUT /kv/${key} answered ${put.status}: ${put.text.slice(0, 200)}`);
  let batchBytes = 0;
  const batch = plan.requests.find((r) => r.path === '/batch');
  if (batch) {
    const res = await send(`${baseUrl}/batch`, { method: 'POST', body: plan.bodies[batch.body] ?? '' });
    if (res.status !== 200) throw new Error(`POST /batch answered ${res.status}: ${res.text.slice(0, 200)}`);
    batchBytes = Buffer.byteLength(res.text);
  }
  return { getBytes: Buffer.byteLength(get.text), putBytes: Buffer.byteLength(put.text), batchBytes };
}

/** Live keys over all shards, from GET /stats (`shards[].keys`), or null when /stats says nothing. */
export async function liveKeys(baseUrl: string): Promise<number | null> {
  try {
    const { status, text } = await send(`${baseUrl}/stats`);
    if (status !== 200) return null;
    const stats = JSON.parse(text) as { shards?: { keys?: unknown }[] };
    if (!Array.isArray(stats.shards)) return null;
    return stats.shards.reduce((sum, s) => sum + (typeof s.keys === 'number' ? s.keys : 0), 0);
  } catch {
    return null;
  }
}

/** GET /stats parsed, or null when the daemon does not answer it. */
export async function readStats(baseUrl: string): Promise<unknown> {
  try {
    const { status, text } = await send(`${baseUrl}/stats`);
    return status === 200 ? (JSON.parse(text) as unknown) : null;
  } catch {
    return null;
  }
}

/** Requests answered by another shard than the connection's so far: direct reads plus hops, all shards. */
export function crossShardCount(stats: unknown): number | null {
  const shards = (stats as { shards?: unknown } | null)?.shards;
  if (!Array.isArray(shards)) return null;
  let total = 0;
  for (const s of shards as { directGets?: unknown; hopsOut?: unknown }[]) {
    if (typeof s.directGets !== 'number' || typeof s.hopsOut !== 'number') return null;
    total += s.directGets + s.hopsOut;
  }
  return total;
}
