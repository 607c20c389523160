/** The table a chaos run prints, one row per scenario, and the figures behind it. */
import type { ScenarioResult } from './scenario.js';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const ms = (x: number | null) => (x === null ? '-' : `${(x / 1000).toFixed(1)}s`);

function worst(values: (number | null)[]): number | null {
  if (values.length === 0) return null;
  if (values.some((v) => v === null)) return null;
  return Math.max(...(values as number[]));
}

export interface Row {
  scenario: string;
  ops: number;
  acked: number;
  lostAll: number;
  missingSome: number;
  unackedPresent: number;
  lwwLost: number;
  lwwStale: number;
  lwwEarlier: number;
  resurrected: string;
  ryw: string;
  availFault: string;
  availElsewhere: string;
  dead: string;
  converge: string;
}

export function rowOf(r: ScenarioResult): Row {
  const fault = r.fault;
  const toTarget = r.detection.filter((d) => 'target' in fault && d.subject === fault.target);
  const c = r.convergence;
  return {
    scenario: r.name,
    ops: r.operations,
    acked: r.unique.acknowledged,
    lostAll: r.unique.lostEverywhere,
    missingSome: r.unique.missingOnSome,
    unackedPresent: r.unique.unacknowledgedPresent,
    lwwLost: r.lww.lostUpdateEverywhere,
    lwwStale: r.lww.staleOnSome,
    lwwEarlier: r.lww.overwrittenByEarlier,
    resurrected: `${r.deletes.resurrectedEverywhere}+${r.deletes.resurrectedOnSome}/${r.deletes.deletesAcknowledged}`,
    ryw: r.readYourWrites.applicable ? `${r.readYourWrites.violations}/${r.readYourWrites.covered}` : 'n/a',
    availFault: pct(r.availability.fault.available),
    availElsewhere: pct(r.availability.fault.availableElsewhere),
    dead: ms(worst(toTarget.map((d) => d.deadMs))),
    converge:
      c.allAgreedMs === null
        ? `no (${c.notConverged}/${c.keys} differ)`
        : `${ms(c.p50Ms)}/${ms(c.p99Ms)}/${ms(c.maxMs)}`,
  };
}

const HEADERS: Record<keyof Row, string> = {
  scenario: 'scenario',
  ops: 'ops',
  acked: 'acked',
  lostAll: 'lost(all)',
  missingSome: 'missing(some)',
  unackedPresent: 'unacked present',
  lwwLost: 'lww lost',
  lwwStale: 'lww stale',
  lwwEarlier: 'lww earlier won',
  resurrected: 'resurrected all+some/deleted',
  ryw: 'RYW viol/covered',
  availFault: 'avail(fault)',
  availElsewhere: 'avail(others)',
  dead: 'dead after',
  converge: 'converge p50/p99/max',
};

/** A Markdown table (it reads as plain text too). */
export function table(results: readonly ScenarioResult[]): string {
  const rows = results.map(rowOf);
  const keys = Object.keys(HEADERS) as (keyof Row)[];
  const lines = [
    `| ${keys.map((k) => HEADERS[k]).join(' | ')} |`,
    `|${keys.map(() => '---').join('|')}|`,
    ...rows.map((row) => `| ${keys.map((k) => String(row[k])).join(' | ')} |`),
  ];
  return lines.join('\n');
}

/** Numeric `replication` counters summed over the nodes. */
export function replicationTotals(r: ScenarioResult): Record<string, number> {
  const out: Record<string, number> = {};
  for (const node of r.replication) {
    for (const [k, v] of Object.entries(node ?? {})) if (typeof v === 'number') out[k] = (out[k] ?? 0) + v;
  }
  return out;
}
