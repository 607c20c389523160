/**
 * `npm run chaos`: the fault suite (docs/convergence.md). Starts real daemons, injects faults, checks
 * what the workloads saw against what the nodes hold, prints a table and writes JSON.
 *
 *   npm run chaos -- [--scenarios kill9,pause,...] [--quick] [--loopback] [--out DIR] [--keep]
 *
 * Exit codes: 0 no invariant broken, 1 an invariant broken (listed), 2 the harness failed.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loopbackNetwork, type Network, netnsAvailable, netnsNetwork } from './network.js';
import { PROJECT_ROOT } from './node-process.js';
import { replicationTotals, table } from './report.js';
import { runScenario, type ScenarioResult } from './scenario.js';
import { allScenarios, FULL, QUICK } from './scenarios.js';

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : (process.argv[i + 1] ?? '');
}
const has = (name: string) => process.argv.includes(`--${name}`);

const cleanups: (() => void)[] = [];
function cleanupAll(): void {
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      fn();
    } catch (error) {
      console.error(`cleanup: ${(error as Error).message}`);
    }
  }
}
process.on('exit', cleanupAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    console.error(`\n${signal}: stopping every node and removing every namespace, link and route`);
    cleanupAll();
    process.exit(130);
  });
}

/** Invariants that must hold whatever the fault; the gaps (not converged, missing on some) are listed apart. */
export function brokenInvariants(r: ScenarioResult): string[] {
  const out: string[] = [];
  if (r.unique.lostEverywhere > 0) out.push(`${r.unique.lostEverywhere} acknowledged writes on no node`);
  if (r.unique.missingOnSomeSettled > 0) {
    out.push(
      `${r.unique.missingOnSomeSettled} writes acknowledged well before the fault missing on some node`,
    );
  }
  if (r.unique.refusedPresent > 0) out.push(`${r.unique.refusedPresent} refused writes present`);
  if (r.lww.lostUpdateEverywhere > 0)
    out.push(`${r.lww.lostUpdateEverywhere} registers lost their newest acknowledged write`);
  if (r.lww.foreignValue > 0) out.push(`${r.lww.foreignValue} registers hold a value never written`);
  if (r.deletes.resurrectedEverywhere > 0)
    out.push(`${r.deletes.resurrectedEverywhere} acknowledged deletes undone on every node`);
  if (r.readYourWrites.violations > 0)
    out.push(`${r.readYourWrites.violations} read-your-writes violations (R + W > N)`);
  return out;
}

export function gaps(r: ScenarioResult): string[] {
  const out: string[] = [];
  if (r.unique.missingOnSome > 0)
    out.push(`${r.unique.missingOnSome} acknowledged writes missing on some nodes`);
  if (r.lww.staleOnSome > 0) out.push(`${r.lww.staleOnSome} registers stale on some nodes`);
  if (r.deletes.resurrectedOnSome > 0)
    out.push(`${r.deletes.resurrectedOnSome} deleted keys still readable on some nodes`);
  if (r.convergence.allAgreedMs === null)
    out.push(`${r.convergence.notConverged} of ${r.convergence.keys} keys never agreed`);
  return out;
}

function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: PROJECT_ROOT,
      encoding: 'utf8',
    }).trim();
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<number> {
  const durations = has('quick') ? QUICK : FULL;
  const wanted = flag('scenarios')
    ?.split(',')
    .filter((s) => s.length > 0);
  const out = flag('out') ?? join(tmpdir(), 'lally-chaos', new Date().toISOString().replace(/[:.]/g, '-'));
  mkdirSync(out, { recursive: true });
  // Registered first, so it runs last: after every node is gone.
  if (!has('keep')) cleanups.push(() => rmSync(join(out, 'runs'), { recursive: true, force: true }));
  const useNetns = !has('loopback') && netnsAvailable();
  const all = allScenarios(durations);
  for (const name of wanted ?? []) {
    if (!all.some((s) => s.spec.name === name)) {
      console.error(`unknown scenario ${name}; known: ${all.map((s) => s.spec.name).join(', ')}`);
      return 2;
    }
  }
  const chosen = all.filter((s) => wanted === undefined || wanted.includes(s.spec.name));
  const maxNodes = Math.max(...chosen.map((s) => s.spec.nodes + (s.spec.fault.kind === 'join' ? 1 : 0)));
  let network: Network = loopbackNetwork();
  if (useNetns) {
    network = netnsNetwork(maxNodes);
    cleanups.push(() => network.cleanup());
  }
  console.log(`chaos: ${chosen.length} scenarios, network ${network.kind}, output ${out}`);
  const results: ScenarioResult[] = [];
  const skipped: string[] = [];
  for (const { spec, needsNetns } of chosen) {
    if (needsNetns && network.kind !== 'netns') {
      skipped.push(spec.name);
      console.log(`${spec.name}: SKIPPED (needs network namespaces: root and iproute2)`);
      continue;
    }
    const result = await runScenario(spec, {
      network,
      dir: join(out, 'runs'),
      onCleanup: (fn) => cleanups.push(fn),
      log: (line) => console.log(`  ${new Date().toISOString().slice(11, 19)} ${line}`),
    });
    results.push(result);
    writeFileSync(join(out, `${spec.name}.json`), `${JSON.stringify(result, null, 2)}\n`);
  }
  const load = (await import('node:os'))
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
  const summary = {
    date: new Date().toISOString(),
    commit: commit(),
    network: network.kind,
    loadAverage: load,
    skipped,
    results: results.map((r) => ({
      ...r,
      replicationTotals: replicationTotals(r),
      brokenInvariants: brokenInvariants(r),
      gaps: gaps(r),
    })),
  };
  writeFileSync(join(out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  console.log(`\n${table(results)}\n`);
  let broken = 0;
  for (const r of summary.results) {
    const totals = Object.entries(r.replicationTotals)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    console.log(`${r.name}: replication ${totals || '(none)'}`);
    for (const b of r.brokenInvariants) console.log(`  BROKEN ${b}`);
    for (const g of r.gaps) console.log(`  gap    ${g}`);
    broken += r.brokenInvariants.length;
  }
  console.log(`\ncommit ${summary.commit}, load ${load}; JSON in ${out}`);
  return broken > 0 ? 1 : 0;
}

main().then(
  (code) => {
    cleanupAll();
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    cleanupAll();
    process.exitCode = 2;
  },
);
