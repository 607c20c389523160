/** The scenarios `npm run chaos` knows, by name. */
import type { Fault, ScenarioSpec } from './scenario.js';

export interface Durations {
  beforeMs: number;
  /** Held longer than the failure detector needs to declare a node dead (about 4 to 6 s). */
  faultMs: number;
  healedMs: number;
  convergeMs: number;
}

export const FULL: Durations = { beforeMs: 3000, faultMs: 9000, healedMs: 4000, convergeMs: 20_000 };
export const QUICK: Durations = { beforeMs: 1500, faultMs: 7000, healedMs: 2000, convergeMs: 8000 };

function spec(name: string, fault: Fault, d: Durations, over: Partial<ScenarioSpec> = {}): ScenarioSpec {
  const base: ScenarioSpec = {
    name,
    nodes: 3,
    writeQuorum: 2,
    readQuorum: 1,
    quorumTimeoutMs: 1000,
    shards: 1,
    fault,
    ...d,
    clients: { unique: 4, lww: 2, registers: 16, deleteKeys: 100, deleters: 2, ryw: 0 },
    requestTimeoutMs: 3000,
    seed: 9,
  };
  return { ...base, ...over };
}

/** Every scenario; `needsNetns` ones are skipped (and said so) without network namespaces. */
export function allScenarios(d: Durations): { spec: ScenarioSpec; needsNetns: boolean }[] {
  const ryw = { unique: 3, lww: 2, registers: 16, deleteKeys: 100, deleters: 2, ryw: 2 };
  return [
    { spec: spec('kill9', { kind: 'kill9', target: 2 }, d), needsNetns: false },
    { spec: spec('pause', { kind: 'pause', target: 2 }, d), needsNetns: false },
    { spec: spec('partition', { kind: 'partition', target: 2, oneWay: false }, d), needsNetns: true },
    { spec: spec('partition-oneway', { kind: 'partition', target: 2, oneWay: true }, d), needsNetns: true },
    { spec: spec('isolate', { kind: 'isolate', target: 2 }, d), needsNetns: true },
    {
      spec: spec('ryw-kill9', { kind: 'kill9', target: 1 }, d, { readQuorum: 2, clients: ryw }),
      needsNetns: false,
    },
    {
      spec: spec('rf3-5nodes-partition', { kind: 'partition', target: 4, oneWay: false }, d, {
        nodes: 5,
        replicationFactor: 3,
        readQuorum: 2,
        clients: ryw,
      }),
      needsNetns: true,
    },
    // Node 2's clock 30 s ahead, within max_clock_skew_ms (60 s): its writes win over later ones.
    { spec: spec('skew', { kind: 'skew', target: 2, offsetMs: 30_000 }, d), needsNetns: false },
    // A fourth node joins under load (every node holds every key: it takes a copy of all before serving).
    { spec: spec('join', { kind: 'join' }, d), needsNetns: false },
  ];
}
