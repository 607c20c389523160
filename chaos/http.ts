/** HTTP calls to a node, bounded in time, classified the way the checkers count them. */

/** `refused`: the request never reached a node (connection refused), so it cannot have written. */
export type Outcome = 'success' | 'partial' | 'error' | 'timeout' | 'refused';

export interface KvBody {
  status?: string;
  key?: string;
  value?: string | null;
  found?: boolean;
  timestamp?: string | null;
  quorum?: { required: number; achieved: number };
}

export interface Answer {
  outcome: Outcome;
  body?: KvBody;
  detail?: string;
}

function classify(status: string | undefined): Outcome {
  if (status === 'success') return 'success';
  if (status === 'partial') return 'partial';
  return 'error';
}

function failureOf(error: unknown): Answer {
  const err = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return { outcome: 'timeout' };
  const code = err.cause?.code ?? '';
  if (code === 'ECONNREFUSED') return { outcome: 'refused', detail: code };
  return { outcome: 'error', detail: code || err.cause?.message || err.message || String(error) };
}

export async function callJson(url: string, init: RequestInit, timeoutMs: number): Promise<Answer> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    let body: KvBody;
    try {
      body = JSON.parse(text) as KvBody;
    } catch {
      return { outcome: 'error', detail: `HTTP ${res.status}: ${text.slice(0, 120)}` };
    }
    return { outcome: classify(body.status), body };
  } catch (error) {
    return failureOf(error);
  }
}

export interface BatchItem extends KvBody {
  op?: string;
}

/** GETs of many keys in one request (each item answers at the node's read quorum). */
export async function batchGet(
  baseUrl: string,
  keys: readonly string[],
  timeoutMs: number,
): Promise<BatchItem[] | undefined> {
  try {
    const res = await fetch(`${baseUrl}/batch`, {
      method: 'POST',
      body: JSON.stringify({ ops: keys.map((key) => ({ op: 'get', key })) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await res.json()) as { results?: BatchItem[] };
    return body.results?.length === keys.length ? body.results : undefined;
  } catch {
    return undefined;
  }
}

export async function getJson<T>(url: string, timeoutMs: number): Promise<T | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return (await res.json()) as T;
  } catch {
    return undefined;
  }
}
