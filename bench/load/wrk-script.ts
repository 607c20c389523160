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

/** Marks the line of answer counts that `done()` prints with `countAnswers`. */
export const ANSWERS_MARK = 'LALLY_BENCH_ANSWERS ';

/** Per-thread counters of the answers' `status` and `quorum.achieved` (globals: `thread:get` reads them). */
const ANSWER_COUNTING = `
answers = 0
success = 0
partial = 0
otherStatus = 0
achievedSum = 0
achievedSeen = 0

function response(status, headers, body)
  answers = answers + 1
  if body:find('"status":"success"', 1, true) then success = success + 1
  elseif body:find('"status":"partial"', 1, true) then partial = partial + 1
  else otherStatus = otherStatus + 1 end
  local achieved = body:match('"achieved":(%d+)')
  if achieved then
    achievedSum = achievedSum + tonumber(achieved)
    achievedSeen = achievedSeen + 1
  end
end
`;

const ANSWER_REPORT = `
  local sums = { answers = 0, success = 0, partial = 0, otherStatus = 0, achievedSum = 0, achievedSeen = 0 }
  local perThread = {}
  for i, t in ipairs(threads) do
    for k, _ in pairs(sums) do sums[k] = sums[k] + (t:get(k) or 0) end
    perThread[i] = string.format("%d", t:get("answers") or 0)
  end
  io.write(string.format(
    '${ANSWERS_MARK}{"answers":%d,"success":%d,"partial":%d,"otherStatus":%d,"achievedSum":%d,"achievedSeen":%d,"perThread":[%s]}\\n',
    sums.answers, sums.success, sums.partial, sums.otherStatus, sums.achievedSum, sums.achievedSeen,
    table.concat(perThread, ",")))
`;

/** Marks the line that `done()` prints, so that the adapter finds it among wrk's own output. */
export const RESULT_MARK = 'LALLY_BENCH_RESULT ';

/** Options of a script beyond the plan (the `cluster` scenario's). */
export interface WrkScriptExtras {
  /**
   * `host:port` of several servers: thread i connects to target i mod n (wrk sets one address per
   * thread), so with as many threads as targets each server gets its own thread and connections.
   */
  targets?: readonly string[];
  /**
   * Reads every answer's `status` and `quorum.achieved` (a `response()` hook: wrk then hands each
   * body to Lua, which costs the client a little per request).
   */
  countAnswers?: boolean;
  /**
   * Requests per second that each wrk thread holds (fixed-rate mode): a `delay()` hook gives every
   * request the next slot of a schedule shared by the thread's connections (wrk 4 has no `-R`).
   */
  ratePerThread?: number;
}

/** Marks the line with the CPU of wrk itself (printed by the shell that ran it, see wrk.ts). */
export const CPU_MARK = 'LALLY_BENCH_WRK_CPU ';

/**
 * The fixed-rate hook. Slots are `intervalMs` apart from the thread's first request; a request waits
 * for its slot (wrk's timer has whole milliseconds: the wait is rounded down, which sends up to 1 ms
 * early but keeps the average rate). After a stall the late slots are sent at once, as clients whose
 * requests queued meanwhile would, but never more than 1 s of them. The latency wrk records starts when
 * the request is written, so the wait for a slot is not part of it.
 */
export function fixedRateHook(ratePerThread: number): string {
  if (!(ratePerThread > 0)) throw new Error(`a fixed rate must be positive, not ${ratePerThread}`);
  return `
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } lally_timespec;
int clock_gettime(int clock, lally_timespec *tp);
]]
local clockNow = ffi.new("lally_timespec")
local function nowMs()
  ffi.C.clock_gettime(1, clockNow)
  return tonumber(clockNow.tv_sec) * 1000 + tonumber(clockNow.tv_nsec) / 1e6
end
local intervalMs = ${1000 / ratePerThread}
local nextSlot = nil

function delay()
  local now = nowMs()
  if nextSlot == nil or nextSlot < now - 1000 then nextSlot = now end
  local slot = nextSlot
  nextSlot = nextSlot + intervalMs
  if slot <= now then return 0 end
  return math.floor(slot - now)
end
`;
}

/**
 * A wrk script that sends a request plan: every thread formats all the planned requests once in
 * `init()` (so that `request()` costs a table lookup) and walks them in order from its own offset;
 * `done()` prints one JSON line with the counts and the latency percentiles (microseconds).
 */
export function wrkScript(
  plan: RequestPlan,
  headers: Record<string, string> = {},
  extras: WrkScriptExtras = {},
): string {
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

local threads = {}
local targets = {${(extras.targets ?? []).map((t) => luaString(t)).join(',')}}
local targetAddrs = nil

function setup(thread)
  thread:set("tid", nextId)
  if #targets > 0 then
    if targetAddrs == nil then
      targetAddrs = {}
      for i, t in ipairs(targets) do
        local host, port = t:match("^(.*):(%d+)$")
        targetAddrs[i] = wrk.lookup(host, port)[1]
      end
    end
    thread.addr = targetAddrs[(nextId % #targetAddrs) + 1]
  end
  threads[#threads + 1] = thread
  nextId = nextId + 1
end
${extras.countAnswers ? ANSWER_COUNTING : ''}${extras.ratePerThread ? fixedRateHook(extras.ratePerThread) : ''}
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
${extras.countAnswers ? ANSWER_REPORT : ''}end
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

/** How the answers of a run were marked (`countAnswers`): JSON answers only, by their `status`. */
export interface AnswerCounts {
  answers: number;
  success: number;
  partial: number;
  /** Answers whose status was neither (errors, or bodies that are not a key operation's answer). */
  otherStatus: number;
  /** Sum and count of the `quorum.achieved` values seen. */
  achievedSum: number;
  achievedSeen: number;
  /** Answers per wrk thread, in thread order (thread i drove target i mod n). */
  perThread: number[];
}

/** The answer counts line of a `countAnswers` script, or null when wrk printed none. */
export function parseAnswerCounts(stdout: string): AnswerCounts | null {
  const line = stdout.split('\n').find((l) => l.startsWith(ANSWERS_MARK));
  if (!line) return null;
  const parsed: unknown = JSON.parse(line.slice(ANSWERS_MARK.length));
  if (typeof parsed !== 'object' || parsed === null)
    throw new Error(`wrk answer counts are not an object: ${line}`);
  const record = parsed as Record<string, unknown>;
  const fields = ['answers', 'success', 'partial', 'otherStatus', 'achievedSum', 'achievedSeen'] as const;
  for (const f of fields) {
    if (typeof record[f] !== 'number') throw new Error(`wrk answer counts lack the number ${f}: ${line}`);
  }
  if (!Array.isArray(record.perThread) || record.perThread.some((n) => typeof n !== 'number')) {
    throw new Error(`wrk answer counts lack perThread: ${line}`);
  }
  return record as unknown as AnswerCounts;
}
