import type { RequestPlan } from '../workload/requests.js';

/** A Lua string literal for any string (bodies are JSON or plain ASCII). */
export function luaString(value: string): string {
  return `"${value.replace(/[\\"]/g, '\\$&').replace(/\n/g, '\\n').replace(/\r/g, '\\r')}"`;
}

/** A Lua long string (`[==[...]==]`) with a level that the content does not close. */
export function luaLongString(value: string): string {
  let level = '';
  while (value.includes(`]${level}]`)) level += '=';
  // A newline right after the opening bracket is skipped by Lua: add one so that a leading newline survives.
  return `[${level}[\n${value}]${level}]`;
}

/** Marks the line that `done()` prints, so that the adapter finds it among wrk's own output. */
export const RESULT_MARK = 'LALLY_BENCH_RESULT ';

/**
 * A wrk script that sends a request plan: every thread formats all the planned requests once in
 * `init()` (so that `request()` costs a table lookup) and walks them in order from its own offset;
 * `done()` prints one JSON line with the counts and the latency percentiles (microseconds).
 */
export function wrkScript(plan: RequestPlan, headers: Record<string, string> = {}): string {
  // The plan travels as two long strings parsed at load time: a table constructor with tens of
  // thousands of entries would overflow LuaJIT's limit on constants per function.
  for (const body of plan.bodies) {
    if (body.includes('\n')) throw new Error('wrk plans carry bodies without newlines');
  }
  const lines: string[] = [];
  lines.push(`local bodyText = ${luaLongString(plan.bodies.join('\n'))}`);
  lines.push(
    `local planText = ${luaLongString(plan.requests.map((r) => `${r.method} ${r.path} ${r.body + 1}`).join('\n'))}`,
  );
  lines.push(`
local bodies = {}
for line in (bodyText .. "\\n"):gmatch("([^\\n]*)\\n") do bodies[#bodies + 1] = line end
local plan = {}
for method, path, body in planText:gmatch("(%S+) (%S+) (%d+)") do plan[#plan + 1] = { method, path, tonumber(body) } end
`);
  const headerEntries = Object.entries(headers).map(([k, v]) => `[${luaString(k)}]=${luaString(v)}`);
  lines.push(`local headers = {${headerEntries.join(',')}}`);
  lines.push(`
local reqs = {}
local n = #plan
local cursor = 1
local nextId = 0

function setup(thread)
  thread:set("tid", nextId)
  nextId = nextId + 1
end

function init(args)
  for i, p in ipairs(plan) do
    local body = nil
    if p[3] > 0 then body = bodies[p[3]] end
    reqs[i] = wrk.format(p[1], p[2], headers, body)
  end
  -- Threads start far apart in the plan, so that they do not send the same keys in lockstep.
  cursor = ((tid or 0) * 7919) % n + 1
end

function request()
  local r = reqs[cursor]
  cursor = cursor + 1
  if cursor > n then cursor = 1 end
  return r
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '${RESULT_MARK}{"requests":%d,"durationUs":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.3f}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean))
end
`);
  return lines.join('\n');
}

export interface WrkSummary {
  requests: number;
  durationUs: number;
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** Finds and checks the line that the script's `done()` printed. */
export function parseWrkOutput(stdout: string): WrkSummary {
  const line = stdout.split('\n').find((l) => l.startsWith(RESULT_MARK));
  if (!line) throw new Error(`wrk printed no result line; its output was:\n${stdout.slice(0, 2000)}`);
  const parsed: unknown = JSON.parse(line.slice(RESULT_MARK.length));
  const fields: (keyof WrkSummary)[] = [
    'requests',
    'durationUs',
    'connect',
    'read',
    'write',
    'status',
    'timeout',
    'p50',
    'p99',
    'p999',
    'max',
    'mean',
  ];
  if (typeof parsed !== 'object' || parsed === null) throw new Error(`wrk result is not an object: ${line}`);
  const record = parsed as Record<string, unknown>;
  for (const f of fields) {
    if (typeof record[f] !== 'number') throw new Error(`wrk result lacks the number ${f}: ${line}`);
  }
  return record as unknown as WrkSummary;
}
