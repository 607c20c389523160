/**
 * The short version of `npm run chaos` (docs/convergence.md): three real daemons on 127.0.0.1, write
 * quorum 2, clients writing distinct keys, registers and deletes through every node; one node is
 * killed with SIGKILL and restarted on its data dir; then the checkers judge what the nodes hold.
 *
 * What holds on this branch is asserted. A restarted node does not yet get the writes it missed
 * (hinted handoff and catch-up are other branches), so "every acknowledged write on every node" is
 * asserted only with LALLY_CHAOS_STRICT=1; without it the figures are printed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { loopbackNetwork } from '../../chaos/network.js';
import { runScenario } from '../../chaos/scenario.js';

const STRICT_CATCH_UP = process.env.LALLY_CHAOS_STRICT === '1';

t.test('kill -9 and restart one of three nodes under writes: no acknowledged write lost', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'lally-chaos-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const undo: (() => void)[] = [];
  t.teardown(() => {
    for (const fn of undo) fn();
  });
  const r = await runScenario(
    {
      name: 'kill9-short',
      nodes: 3,
      writeQuorum: 2,
      readQuorum: 1,
      quorumTimeoutMs: 1000,
      shards: 1,
      fault: { kind: 'kill9', target: 2 },
      beforeMs: 2000,
      faultMs: 1000,
      healedMs: 600,
      convergeMs: 1000,
      clients: { unique: 3, lww: 1, registers: 8, deleteKeys: 20, deleters: 1, ryw: 0 },
      requestTimeoutMs: 3000,
      seed: 9,
    },
    { network: loopbackNetwork(), dir, onCleanup: (fn) => undo.push(fn), log: () => {} },
  );
  const u = r.unique;
  t.comment(
    `unique: ${u.writes} writes, ${u.acknowledged} acknowledged, ${u.lostEverywhere} lost everywhere, ` +
      `${u.missingOnSome} missing on some (by phase ${JSON.stringify(u.missingOnSomeByPhase)}, ` +
      `last ${u.lastMissingAfterHealMs} ms after the restart); ` +
      `deletes undone on some nodes ${r.deletes.resurrectedOnSome}/${r.deletes.deletesAcknowledged}; ` +
      `converged: ${r.convergence.allAgreedMs === null ? `no, ${r.convergence.notConverged} keys differ` : 'yes'}`,
  );
  t.ok(u.acknowledged > 50, `writes were acknowledged (${u.acknowledged})`);
  t.ok(r.availability.fault.refused > 0, 'some requests went to the killed node and were refused');
  t.equal(
    r.availability.fault.availableElsewhere,
    1,
    'the live nodes answered every request during the fault',
  );
  t.equal(u.lostEverywhere, 0, 'no acknowledged write is missing from every node');
  t.equal(u.refusedPresent, 0, 'no refused write appeared');
  t.ok(u.settledAcknowledged > 0, `writes were acknowledged well before the kill (${u.settledAcknowledged})`);
  t.equal(
    u.missingOnSomeSettled,
    0,
    'writes acknowledged well before the kill are on every node, the restarted one too',
  );
  t.equal(r.lww.lostUpdateEverywhere, 0, 'no register lost its newest acknowledged write everywhere');
  t.equal(r.lww.foreignValue, 0, 'no register holds a value nobody wrote');
  t.equal(r.deletes.resurrectedEverywhere, 0, 'no acknowledged delete undone on every node');
  if (STRICT_CATCH_UP) {
    t.equal(u.missingOnSome, 0, 'strict: every acknowledged write is on every node once converged');
    t.equal(r.deletes.resurrectedOnSome, 0, 'strict: every acknowledged delete is on every node');
    t.not(r.convergence.allAgreedMs, null, 'strict: all nodes agree on every key');
  }
});
