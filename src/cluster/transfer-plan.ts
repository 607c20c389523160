/**
 * What a node must receive when it joins or restarts (its catch-up), and what it must hand over when
 * it leaves: ring ranges and the members that hold or gain them. Pure: members in, plans out.
 *
 * The ring is every member not left (as GET /cluster's shares): a dead member stays on it. With the
 * factor 'all' (or one at least the ring's size) every member holds every key: a catch-up takes
 * everything from one member, and a leave hands nothing over.
 */

import { diffPlacement, HashRing, type ReplicationFactor, RING_SIZE } from '../placement/placement.js';
import type { MemberState } from './member.js';

export interface PlanMember {
  readonly id: number;
  readonly address: string;
  readonly state: MemberState;
}

export interface Range {
  readonly start: number;
  readonly end: number;
}

/** Ranges to ask one source for; empty ranges: every key. */
export interface PullTask {
  readonly ranges: readonly Range[];
  /** Members that hold these ranges, the preferred first (alive ones only). */
  readonly sources: readonly PlanMember[];
}

const usable = (m: PlanMember) => m.state === 'alive' || m.state === 'suspect';

/** Merges touching ranges (input in ring order). */
function merge(ranges: Range[]): Range[] {
  const out: Range[] = [];
  for (const r of ranges) {
    const last = out[out.length - 1];
    if (last !== undefined && last.end === r.start) out[out.length - 1] = { start: last.start, end: r.end };
    else out.push(r);
  }
  return out;
}

function isFull(factor: ReplicationFactor | undefined, ringSize: number): boolean {
  return factor === undefined || factor === 'all' || factor >= ringSize;
}

/**
 * The catch-up of node `self`: the ranges it holds on the ring of `members` (itself included), each
 * with the members that hold it besides itself. Those are the ring without `self`'s replicas of the
 * range: the members that held it before a join, or that kept it (and took its writes) while `self`
 * was down. Ranges with the same sources come as one task; `preferred` (the seed) goes first where it
 * holds a range. An empty list: nobody to ask (a cluster of one, or no other member alive).
 */
export function planCatchUp(
  self: number,
  members: readonly PlanMember[],
  factor: ReplicationFactor | undefined,
  preferred?: string,
): PullTask[] {
  const onRing = members.filter((m) => m.state !== 'left');
  const others = onRing.filter((m) => m.id !== self);
  const order = (list: PlanMember[]) =>
    list.filter(usable).sort((a, b) => Number(b.address === preferred) - Number(a.address === preferred));
  if (others.length === 0) return [];
  const ids = new Set([...onRing.map((m) => m.id), self]);
  if (isFull(factor, ids.size)) {
    const sources = order([...others]);
    return sources.length === 0 ? [] : [{ ranges: [], sources }];
  }
  const n = factor as number;
  const byId = new Map(others.map((m) => [m.id, m]));
  const withSelf = new HashRing(ids);
  const without = new HashRing(others.map((m) => m.id));
  const bounds = [...new Set([0, ...withSelf.tokens(), ...without.tokens()])].sort((a, b) => a - b);
  bounds.push(RING_SIZE);
  const groups = new Map<string, { sources: PlanMember[]; ranges: Range[] }>();
  for (let i = 0; i + 1 < bounds.length; i++) {
    const start = bounds[i]!;
    if (!withSelf.replicasAt(start, n).includes(self)) continue;
    const holders = without.replicasAt(start, n).map((id) => byId.get(id)!);
    const sources = order(holders);
    if (sources.length === 0) continue;
    const key = sources.map((m) => m.id).join(',');
    let group = groups.get(key);
    if (group === undefined) {
      group = { sources, ranges: [] };
      groups.set(key, group);
    }
    group.ranges.push({ start, end: bounds[i + 1]! });
  }
  return [...groups.values()].map((g) => ({ ranges: merge(g.ranges), sources: g.sources }));
}

/**
 * Groups tasks by the source to ask first, so that each source is asked once (each request scans
 * that source's whole store): the ranges of every task whose first usable source is that member.
 * `skip` holds sources that failed; a task with no other source is dropped (returned in `orphaned`).
 */
export function assignSources(
  tasks: readonly PullTask[],
  skip: ReadonlySet<number> = new Set(),
): { bySource: Map<PlanMember, PullTask[]>; orphaned: PullTask[] } {
  const bySource = new Map<PlanMember, PullTask[]>();
  const orphaned: PullTask[] = [];
  const members = new Map<number, PlanMember>();
  for (const task of tasks) {
    const source = task.sources.find((s) => !skip.has(s.id));
    if (source === undefined) {
      orphaned.push(task);
      continue;
    }
    const member = members.get(source.id) ?? source;
    members.set(source.id, member);
    const list = bySource.get(member) ?? [];
    list.push(task);
    bySource.set(member, list);
  }
  return { bySource, orphaned };
}

/** One range to hand over on leave, and the members that gain it. */
export interface HandoffMove {
  readonly range: Range;
  readonly to: readonly PlanMember[];
}

/**
 * What `self` hands over when it leaves: the ranges it loses (the ring with it against the ring
 * without it) and the usable members that gain each. Nothing with the factor 'all' or one at least
 * the ring's size (every member already holds every key).
 */
export function planHandoff(
  self: number,
  members: readonly PlanMember[],
  factor: ReplicationFactor | undefined,
): HandoffMove[] {
  const onRing = members.filter((m) => m.state !== 'left');
  const ids = new Set([...onRing.map((m) => m.id), self]);
  if (ids.size < 2 || isFull(factor, ids.size)) return [];
  const byId = new Map(onRing.map((m) => [m.id, m]));
  const before = new HashRing(ids);
  const after = new HashRing([...ids].filter((id) => id !== self));
  const moves: HandoffMove[] = [];
  for (const move of diffPlacement(before, after, factor)) {
    if (!move.lost.includes(self)) continue;
    const to = move.gained
      .map((id) => byId.get(id))
      .filter((m): m is PlanMember => m !== undefined && usable(m));
    if (to.length > 0) moves.push({ range: move.range, to });
  }
  return moves;
}
