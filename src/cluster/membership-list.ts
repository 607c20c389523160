/**
 * The member table and its precedence rules, free of timers and I/O: the failure detector (swim.ts)
 * feeds it updates from probes and gossip, and it says what changed.
 *
 * Rules (SWIM, as HashiCorp memberlist applies them): an update about another member applies when it
 * supersedes what is known (compareUpdates: higher incarnation, or the same incarnation and a graver
 * state), so alive with a higher incarnation overrides suspect, suspect overrides alive at the same
 * incarnation, and dead or left override both. A first update about an unknown member adds it in
 * whatever state it names (a dead member still owns ring ranges). An alive claim for a known, live id
 * from another address is a conflict (two processes with one id): it is reported, never applied.
 * Updates about this node are never applied: when one says it is suspect, dead or left, or claims a
 * newer incarnation, the node refutes it by taking a higher incarnation, which then wins everywhere;
 * an older suspicion or death still going round makes it announce its current state again.
 */
import {
  compareUpdates,
  type Member,
  type MemberState,
  type MemberUpdate,
  makeMember,
  toUpdate,
} from './member.js';

export type MembershipEventKind = 'join' | 'alive' | 'suspect' | 'dead' | 'left' | 'update';

export type ApplyOutcome =
  | { readonly kind: 'ignored' }
  | { readonly kind: 'refuted'; readonly self: Member }
  | { readonly kind: 'reannounce'; readonly self: Member }
  | { readonly kind: 'conflict'; readonly member: Member; readonly claim: MemberUpdate }
  | {
      readonly kind: 'changed';
      readonly event: MembershipEventKind;
      readonly member: Member;
      readonly previous: Member | undefined;
    };

const IGNORED: ApplyOutcome = { kind: 'ignored' };

function eventOf(previous: Member | undefined, next: MemberState): MembershipEventKind {
  if (previous === undefined) return 'join';
  if (previous.state === next) return 'update';
  return next;
}

export class MembershipList {
  readonly #now: () => number;
  readonly #members = new Map<number, Member>();
  #self: Member;
  #leaving = false;

  constructor(self: { id: number; address: string; incarnation?: number }, now: () => number) {
    this.#now = now;
    this.#self = makeMember(
      { id: self.id, address: self.address, state: 'alive', incarnation: self.incarnation ?? 0 },
      now(),
      undefined,
    );
  }

  get self(): Member {
    return this.#self;
  }

  get leaving(): boolean {
    return this.#leaving;
  }

  get(id: number): Member | undefined {
    return id === this.#self.id ? this.#self : this.#members.get(id);
  }

  /** Every other member, in any state, ascending by id. */
  others(): Member[] {
    return [...this.#members.values()].sort((a, b) => a.id - b.id);
  }

  /** Every member including this node, ascending by id. */
  all(): Member[] {
    return [...this.others(), this.#self].sort((a, b) => a.id - b.id);
  }

  /** Other members in the given states. */
  othersIn(...states: MemberState[]): Member[] {
    return this.others().filter((m) => states.includes(m.state));
  }

  /** The number of members thought alive or suspect, this node included (memberlist's estimate of n). */
  liveCount(): number {
    let n = 1;
    for (const m of this.#members.values()) if (m.state === 'alive' || m.state === 'suspect') n++;
    return n;
  }

  /** The full state, as a push-pull exchange or a join answer carries it. */
  snapshot(): MemberUpdate[] {
    return this.all().map(toUpdate);
  }

  /** Whether a joiner with this id and address would clash with this node or a live member. */
  joinConflict(id: number, address: string): Member | undefined {
    const known = this.get(id);
    if (known === undefined) return undefined;
    if (known === this.#self) return known;
    if ((known.state === 'alive' || known.state === 'suspect') && known.address !== address) return known;
    return undefined;
  }

  heard(id: number): void {
    const m = this.#members.get(id);
    if (m !== undefined) this.#members.set(id, { ...m, lastHeard: this.#now() });
  }

  /** Marks this node as leaving: its left update, which no later update about it overrides. */
  leave(): MemberUpdate {
    this.#leaving = true;
    this.#self = { ...this.#self, state: 'left', stateSince: this.#now() };
    return toUpdate(this.#self);
  }

  /** Drops a member from the table (after its data was handed off); a later update may add it back. */
  forget(id: number): boolean {
    return this.#members.delete(id);
  }

  apply(update: MemberUpdate): ApplyOutcome {
    if (update.id === this.#self.id) return this.#applyAboutSelf(update);
    const known = this.#members.get(update.id);
    if (known !== undefined && compareUpdates(update, known) <= 0) return IGNORED;
    if (
      known !== undefined &&
      update.state === 'alive' &&
      update.address !== known.address &&
      (known.state === 'alive' || known.state === 'suspect')
    ) {
      return { kind: 'conflict', member: known, claim: update };
    }
    const now = this.#now();
    const stateSince = known !== undefined && known.state === update.state ? known.stateSince : now;
    const member = makeMember(update, stateSince, known?.lastHeard);
    this.#members.set(update.id, member);
    return { kind: 'changed', event: eventOf(known, update.state), member, previous: known };
  }

  #applyAboutSelf(update: MemberUpdate): ApplyOutcome {
    if (this.#leaving) return IGNORED;
    const self = this.#self;
    const refute =
      (update.state !== 'alive' && update.incarnation >= self.incarnation) ||
      update.incarnation > self.incarnation ||
      (update.incarnation === self.incarnation && update.address !== self.address);
    if (!refute) {
      // Someone still spreads an older suspicion or death of this node: its refutation did not reach
      // everyone before it retired from the gossip queues, so announce the current state again.
      return update.state === 'alive' ? IGNORED : { kind: 'reannounce', self };
    }
    this.#self = { ...self, incarnation: Math.max(self.incarnation, update.incarnation) + 1 };
    return { kind: 'refuted', self: this.#self };
  }
}
