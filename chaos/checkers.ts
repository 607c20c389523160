/**
 * The checkers: pure functions from the operation log and the final state (each node's own answer for
 * each key, read at read quorum 1 after healing and a convergence wait) to counts.
 *
 * Acknowledged: answered `success` or `partial` with `quorum.achieved >= 1`, i.e. written on at least
 * one replica by the coordinator's account. Quorum-acknowledged: answered `success` (achieved >=
 * required). Indeterminate: a timeout, an error, or `partial` with nothing achieved; it may or may not
 * have landed. Refused: the connection was refused, so the request reached no node.
 */
import type { OpRecord, Phase } from './workloads.js';

/** One node's answer for one key in the final reads; undefined when that node could not be read. */
export interface NodeValue {
  found: boolean;
  value: string | null;
  timestamp: string | null;
}

export type FinalState = ReadonlyMap<string, readonly (NodeValue | undefined)[]>;

export const acknowledged = (op: OpRecord): boolean =>
  (op.outcome === 'success' || op.outcome === 'partial') && (op.achieved ?? 0) >= 1;

const present = (v: NodeValue | undefined): boolean => v?.found === true && v.value !== null;

export interface UniqueKeysResult {
  writes: number;
  acknowledged: number;
  quorumAcknowledged: number;
  indeterminate: number;
  refused: number;
  /** Acknowledged, and on no node at the end (at least one node answered). */
  lostEverywhere: number;
  /** Of those, answered `success` (the write quorum met). */
  lostEverywhereQuorum: number;
  /** Acknowledged, present on some nodes, missing on others. */
  missingOnSome: number;
  /** Indeterminate, yet present somewhere (allowed: it landed). */
  unacknowledgedPresent: number;
  /** Refused, yet present (must be 0). */
  refusedPresent: number;
  /** Acknowledged, but no node answered the final read of it: not judged. */
  unread: number;
  /** `missingOnSome` by the phase the write was sent in (a write before the fault must be everywhere). */
  missingOnSomeByPhase: Record<Phase, number>;
  /**
   * Missing on some node though acknowledged `settleMs` or more before the fault: every replica had
   * time to get it, so a node without it lost it (kill -9) rather than missed it.
   */
  missingOnSomeSettled: number;
  /** Acknowledged `settleMs` or more before the fault (what `missingOnSomeSettled` is out of). */
  settledAcknowledged: number;
  /** The last acknowledged write missing on some node, in ms after the heal (null: none after it). */
  lastMissingAfterHealMs: number | null;
}

export interface Timeline {
  faultAtMs: number;
  healedAtMs: number;
  settleMs: number;
}

export function checkUniqueKeys(
  ops: readonly OpRecord[],
  final: FinalState,
  time: Timeline,
): UniqueKeysResult {
  const r: UniqueKeysResult = {
    writes: 0,
    acknowledged: 0,
    quorumAcknowledged: 0,
    indeterminate: 0,
    refused: 0,
    lostEverywhere: 0,
    lostEverywhereQuorum: 0,
    missingOnSome: 0,
    unacknowledgedPresent: 0,
    refusedPresent: 0,
    unread: 0,
    missingOnSomeByPhase: { setup: 0, before: 0, fault: 0, healed: 0 },
    missingOnSomeSettled: 0,
    settledAcknowledged: 0,
    lastMissingAfterHealMs: null,
  };
  for (const op of ops) {
    if (op.workload !== 'unique' || op.kind !== 'put') continue;
    r.writes++;
    const values = final.get(op.key) ?? [];
    const on = values.filter((v) => present(v) && v!.value === op.value).length;
    const read = values.filter((v) => v !== undefined).length;
    if (acknowledged(op)) {
      r.acknowledged++;
      if (op.outcome === 'success') r.quorumAcknowledged++;
      if (op.endMs <= time.faultAtMs - time.settleMs) r.settledAcknowledged++;
      if (read === 0) r.unread++;
      else if (on === 0) {
        r.lostEverywhere++;
        if (op.outcome === 'success') r.lostEverywhereQuorum++;
      } else if (on < read) {
        r.missingOnSome++;
        r.missingOnSomeByPhase[op.phase]++;
        if (op.endMs <= time.faultAtMs - time.settleMs) r.missingOnSomeSettled++;
        const after = op.endMs - time.healedAtMs;
        if (after >= 0 && after > (r.lastMissingAfterHealMs ?? -1)) r.lastMissingAfterHealMs = after;
      }
    } else if (op.outcome === 'refused') {
      r.refused++;
      if (on > 0) r.refusedPresent++;
    } else {
      r.indeterminate++;
      if (on > 0) r.unacknowledgedPresent++;
    }
  }
  return r;
}

export interface LwwResult {
  registers: number;
  writes: number;
  acknowledged: number;
  /** Registers whose nodes hold different values at the end. */
  divergent: number;
  /** Registers whose newest value on any node is older than the newest acknowledged write. */
  lostUpdateEverywhere: number;
  /** Registers where some node holds a value older than the newest acknowledged write. */
  staleOnSome: number;
  /** Registers holding a value nobody wrote (must be 0). */
  foreignValue: number;
  /**
   * Registers whose surviving value (the newest on any node) was written, in real time, wholly before
   * the last acknowledged write began: what a clock running ahead does to last-writer-wins (the
   * versions say the older write is newer). A figure, not an invariant: the store orders writes by
   * their versions, and the checks above hold by versions.
   */
  overwrittenByEarlier: number;
}

export function checkLww(ops: readonly OpRecord[], final: FinalState): LwwResult {
  const written = new Map<string, Set<string>>();
  const newestAck = new Map<string, string>();
  const lastAckInTime = new Map<string, OpRecord>();
  const writerOf = new Map<string, OpRecord>();
  let writes = 0;
  let acked = 0;
  for (const op of ops) {
    if (op.workload !== 'lww' || op.kind !== 'put') continue;
    writes++;
    const set = written.get(op.key) ?? new Set<string>();
    written.set(op.key, set);
    set.add(op.value ?? '');
    writerOf.set(`${op.key}\n${op.value ?? ''}`, op);
    if (!acknowledged(op) || typeof op.timestamp !== 'string') continue;
    acked++;
    const last = lastAckInTime.get(op.key);
    if (last === undefined || op.startMs > last.startMs) lastAckInTime.set(op.key, op);
    const seen = newestAck.get(op.key);
    if (seen === undefined || op.timestamp > seen) newestAck.set(op.key, op.timestamp);
  }
  const r: LwwResult = {
    registers: written.size,
    writes,
    acknowledged: acked,
    divergent: 0,
    lostUpdateEverywhere: 0,
    staleOnSome: 0,
    foreignValue: 0,
    overwrittenByEarlier: 0,
  };
  for (const [key, values] of written) {
    const nodes = (final.get(key) ?? []).filter((v): v is NodeValue => v !== undefined);
    const distinct = new Set(nodes.map((v) => `${v.value}@${v.timestamp}`));
    if (distinct.size > 1) r.divergent++;
    if (nodes.some((v) => present(v) && !values.has(v.value!))) r.foreignValue++;
    if (survivorIsEarlier(key, nodes, lastAckInTime.get(key), writerOf)) r.overwrittenByEarlier++;
    const floor = newestAck.get(key);
    if (floor === undefined || nodes.length === 0) continue;
    // Timestamps render milliseconds: within one, two writes tie here and either may win.
    const fresh = (v: NodeValue) => present(v) && (v.timestamp ?? '') >= floor;
    if (!nodes.some(fresh)) r.lostUpdateEverywhere++;
    else if (!nodes.every(fresh)) r.staleOnSome++;
  }
  return r;
}

/** True when the newest value on the nodes was written wholly before the last acknowledged write began. */
function survivorIsEarlier(
  key: string,
  nodes: readonly NodeValue[],
  last: OpRecord | undefined,
  writerOf: ReadonlyMap<string, OpRecord>,
): boolean {
  if (last === undefined) return false;
  let survivor: NodeValue | undefined;
  for (const v of nodes) {
    if (present(v) && (survivor === undefined || (v.timestamp ?? '') > (survivor.timestamp ?? '')))
      survivor = v;
  }
  if (survivor === undefined || survivor.value === last.value) return false;
  const writer = writerOf.get(`${key}\n${survivor.value}`);
  return writer !== undefined && writer.endMs < last.startMs;
}

export interface DeleteResult {
  keys: number;
  deletesAcknowledged: number;
  /** Delete acknowledged, yet every node that answered still returns the value. */
  resurrectedEverywhere: number;
  /** Delete acknowledged, yet some (not all) nodes return the value. */
  resurrectedOnSome: number;
}

export function checkDeletes(ops: readonly OpRecord[], final: FinalState): DeleteResult {
  const deleted = new Set<string>();
  const keys = new Set<string>();
  for (const op of ops) {
    if (op.workload !== 'delete') continue;
    keys.add(op.key);
    if (op.kind === 'delete' && acknowledged(op)) deleted.add(op.key);
  }
  const r: DeleteResult = {
    keys: keys.size,
    deletesAcknowledged: deleted.size,
    resurrectedEverywhere: 0,
    resurrectedOnSome: 0,
  };
  for (const key of deleted) {
    const nodes = (final.get(key) ?? []).filter((v): v is NodeValue => v !== undefined);
    const alive = nodes.filter(present).length;
    if (alive === 0) continue;
    if (alive === nodes.length) r.resurrectedEverywhere++;
    else r.resurrectedOnSome++;
  }
  return r;
}

export interface ReadYourWritesResult {
  /** Whether R + W > N held in this run (the guarantee only holds then). */
  applicable: boolean;
  pairs: number;
  /** Write `success` and read `success`: the reads the guarantee covers. */
  covered: number;
  violations: number;
  /** Reads not covered (a `partial` on either side) that missed the write. */
  uncoveredStale: number;
}

export function checkReadYourWrites(ops: readonly OpRecord[], applicable: boolean): ReadYourWritesResult {
  const r: ReadYourWritesResult = { applicable, pairs: 0, covered: 0, violations: 0, uncoveredStale: 0 };
  for (const op of ops) {
    if (op.workload !== 'ryw' || op.kind !== 'get' || op.expected === undefined) continue;
    if (op.outcome !== 'success' && op.outcome !== 'partial') continue;
    r.pairs++;
    const stale = op.value !== op.expected;
    if (op.writeMet === true && op.outcome === 'success') {
      r.covered++;
      if (stale) r.violations++;
    } else if (stale) r.uncoveredStale++;
  }
  return r;
}

export interface PhaseAvailability {
  requests: number;
  success: number;
  partial: number;
  error: number;
  timeout: number;
  refused: number;
  /** Share answered success or partial. */
  available: number;
  /** The same, leaving out requests sent to the faulted node. */
  availableElsewhere: number;
}

export function availability(
  ops: readonly OpRecord[],
  faulted: readonly number[],
): Record<Exclude<Phase, 'setup'>, PhaseAvailability> {
  const phases = ['before', 'fault', 'healed'] as const;
  const out = {} as Record<Exclude<Phase, 'setup'>, PhaseAvailability>;
  for (const phase of phases) {
    const mine = ops.filter((op) => op.phase === phase);
    const count = (o: OpRecord['outcome']) => mine.filter((op) => op.outcome === o).length;
    const answered = (list: readonly OpRecord[]) =>
      list.filter((op) => op.outcome === 'success' || op.outcome === 'partial').length;
    const elsewhere = mine.filter((op) => !faulted.includes(op.node));
    out[phase] = {
      requests: mine.length,
      success: count('success'),
      partial: count('partial'),
      error: count('error'),
      timeout: count('timeout'),
      refused: count('refused'),
      available: mine.length === 0 ? 1 : answered(mine) / mine.length,
      availableElsewhere: elsewhere.length === 0 ? 1 : answered(elsewhere) / elsewhere.length,
    };
  }
  return out;
}
