/**
 * A cluster member as the failure detector sees it, and the update that gossip carries about one.
 * The order of updates about one member is (incarnation, state rank): a higher incarnation always
 * wins; at equal incarnation suspect beats alive, dead beats suspect, and left (a graceful leave)
 * beats dead. Only the member itself raises its incarnation, to refute a suspicion or death.
 */
import { nodeIdToHex } from './node-identity.js';

export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';

export const MEMBER_STATES: readonly MemberState[] = ['alive', 'suspect', 'dead', 'left'];

const RANK: Readonly<Record<MemberState, number>> = { alive: 0, suspect: 1, dead: 2, left: 3 };

export interface MemberUpdate {
  readonly id: number;
  /** The `host:port` peers dial (its advertised gRPC address). */
  readonly address: string;
  readonly state: MemberState;
  readonly incarnation: number;
}

export interface Member extends MemberUpdate {
  readonly hex: string;
  /** When this node last saw the member's state change (scheduler ms). */
  readonly stateSince: number;
  /** When this node last heard from the member directly (scheduler ms), if ever. */
  readonly lastHeard: number | undefined;
}

/** Positive when `a` supersedes `b` (same member), 0 when equal in order, negative when older. */
export function compareUpdates(a: Pick<MemberUpdate, 'state' | 'incarnation'>, b: typeof a): number {
  if (a.incarnation !== b.incarnation) return a.incarnation > b.incarnation ? 1 : -1;
  return RANK[a.state] - RANK[b.state];
}

const MAX_ADDRESS = 512;

/** Whether a value from the wire is a well-formed update; malformed ones are dropped, never applied. */
export function isMemberUpdate(value: unknown): value is MemberUpdate {
  if (typeof value !== 'object' || value === null) return false;
  const u = value as Record<string, unknown>;
  return (
    typeof u.id === 'number' &&
    Number.isInteger(u.id) &&
    u.id >= 1 &&
    u.id <= 0xffffffff &&
    typeof u.address === 'string' &&
    u.address.length > 0 &&
    u.address.length <= MAX_ADDRESS &&
    typeof u.state === 'string' &&
    (MEMBER_STATES as readonly string[]).includes(u.state) &&
    typeof u.incarnation === 'number' &&
    Number.isSafeInteger(u.incarnation) &&
    u.incarnation >= 0
  );
}

export function toUpdate(member: MemberUpdate): MemberUpdate {
  return { id: member.id, address: member.address, state: member.state, incarnation: member.incarnation };
}

export function makeMember(update: MemberUpdate, stateSince: number, lastHeard: number | undefined): Member {
  return { ...toUpdate(update), hex: nodeIdToHex(update.id), stateSince, lastHeard };
}
