/**
 * Placement: which members hold a key. Consistent hashing with virtual nodes, as Dynamo: every member
 * puts `vnodes` tokens on a 32-bit ring, a key sits at a ring position, and its replicas are the first N
 * distinct members clockwise from there (the preference list). A membership change moves only the
 * arcs next to the changed member's tokens, about 1/N of the keys, and only to or from that member.
 *
 * Ring position of a key: `placementOf(keyHash)`, a bijective 32-bit finaliser (murmur3's fmix32) of
 * the key hash shards already use (FNV-1a, src/hash/key-hash.ts), XORed with a constant first. Why:
 * - Spread: FNV-1a of strings that differ only in their last characters (vnode labels `hex:0` ..
 *   `hex:127`, keys `user:1`, `user:2`, ...) lands in clumps; taken raw as positions, 128 vnodes gave
 *   members 0.19x to 2.47x of a fair share in the balance test, against 0.77x to 1.25x with the mix.
 * - Independence from the shard choice (`keyHash % shards`, the low bits): the position depends on all
 *   32 bits through the mix, so the keys of any member's ranges fall on every shard in equal parts (a
 *   test checks it), and a join transfer or handoff of a range loads every shard thread.
 * - Cost: the key hash is already computed (and carried by hops) for shard routing; the mix is five
 *   integer operations, and any thread can recompute a key's position from its hash alone, without a
 *   second pass over the key's bytes.
 * Token positions hash `${memberHex}:${vnode}` the same way, so a ring depends only on its member ids:
 * every node builds the same ring from the same members, in any order.
 *
 * Arcs: a position p belongs to the first token strictly greater than p (wrapping), so token i owns the
 * half-open arc [token[i-1], token[i]). Ranges handed out by this module never wrap: 0 <= start < end
 * <= 2^32.
 */
import { ErrorCodes, LallyError } from '../errors.js';
import { hashKey } from '../hash/key-hash.js';

export const RING_SIZE = 2 ** 32;
export const DEFAULT_VNODES = 128;
/** Replication factor: a number of members, or every member (upstream's full replication). */
export type ReplicationFactor = number | 'all';

const PLACEMENT_SEED = 0x9e3779b9;

/** murmur3's 32-bit finaliser: a bijection on u32 with full avalanche. */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The ring position of a key, from its key hash (hashKey / hashKeyBytes). */
export function placementOf(keyHash: number): number {
  return mix32((keyHash ^ PLACEMENT_SEED) >>> 0);
}

export function tokenOf(memberId: number, vnode: number): number {
  // The member's id as 8 hex digits, as src/cluster/node-identity.ts shows it (pinned by a test).
  return placementOf(hashKey(`${memberId.toString(16).padStart(8, '0')}:${vnode}`));
}

/** A half-open range of ring positions, [start, end), never wrapping. */
export interface HashRange {
  readonly start: number;
  readonly end: number;
}

export function rangeContains(range: HashRange, position: number): boolean {
  return position >= range.start && position < range.end;
}

export interface HashRingOptions {
  readonly vnodes?: number;
}

export class HashRing {
  /** Member ids, ascending. */
  readonly members: readonly number[];
  readonly vnodes: number;
  readonly #tokens: Uint32Array;
  /** Index into `members` of each token's member. */
  readonly #owners: Uint32Array;
  /** Per token, lazily: every member once, in clockwise order from that token. */
  readonly #orders: (Uint32Array | undefined)[];

  constructor(memberIds: Iterable<number>, opts: HashRingOptions = {}) {
    const vnodes = opts.vnodes ?? DEFAULT_VNODES;
    if (!Number.isSafeInteger(vnodes) || vnodes < 1 || vnodes > 4096) {
      throw new LallyError(ErrorCodes.CONFIG, `vnodes must be an integer from 1 to 4096, not ${vnodes}`);
    }
    const ids = [...new Set(memberIds)].sort((a, b) => a - b);
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 1 || id > 0xffffffff) {
        throw new LallyError(
          ErrorCodes.INTERNAL,
          `a member id is an unsigned 32-bit integer above 0, not ${id}`,
        );
      }
    }
    this.members = ids;
    this.vnodes = vnodes;
    const entries: [token: number, owner: number][] = [];
    ids.forEach((id, owner) => {
      for (let v = 0; v < vnodes; v++) entries.push([tokenOf(id, v), owner]);
    });
    // Equal tokens (a 32-bit collision) are ordered by member id, so every node agrees on the order.
    entries.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    this.#tokens = Uint32Array.from(entries, (e) => e[0]);
    this.#owners = Uint32Array.from(entries, (e) => e[1]);
    this.#orders = new Array(entries.length);
  }

  get size(): number {
    return this.members.length;
  }

  /** How many replicas a factor means on this ring. */
  replicaCount(factor: ReplicationFactor): number {
    if (factor === 'all') return this.members.length;
    if (!Number.isSafeInteger(factor) || factor < 1) {
      throw new LallyError(
        ErrorCodes.CONFIG,
        `the replication factor must be a positive integer or 'all', not ${factor}`,
      );
    }
    return Math.min(factor, this.members.length);
  }

  /** Index of the token that owns a position: the first token strictly greater, wrapping. */
  #tokenIndex(position: number): number {
    const tokens = this.#tokens;
    let lo = 0;
    let hi = tokens.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (tokens[mid]! <= position) lo = mid + 1;
      else hi = mid;
    }
    return lo === tokens.length ? 0 : lo;
  }

  #order(tokenIndex: number): Uint32Array {
    const cached = this.#orders[tokenIndex];
    if (cached !== undefined) return cached;
    const order = new Uint32Array(this.members.length);
    const seen = new Uint8Array(this.members.length);
    let found = 0;
    for (let step = 0; found < order.length && step < this.#tokens.length; step++) {
      const owner = this.#owners[(tokenIndex + step) % this.#tokens.length]!;
      if (seen[owner] === 0) {
        seen[owner] = 1;
        order[found++] = owner;
      }
    }
    this.#orders[tokenIndex] = order;
    return order;
  }

  /** The first `factor` distinct members clockwise from a ring position that `isLive` accepts. */
  replicasAt(
    position: number,
    factor: ReplicationFactor = 'all',
    isLive?: (id: number) => boolean,
  ): number[] {
    const n = this.replicaCount(factor);
    const out: number[] = [];
    if (n === 0) return out;
    const order = this.#order(this.#tokenIndex(position));
    for (let i = 0; i < order.length && out.length < n; i++) {
      const id = this.members[order[i]!]!;
      if (isLive === undefined || isLive(id)) out.push(id);
    }
    return out;
  }

  /**
   * The preference list of a key: its first N distinct live members clockwise. Without `isLive`, the
   * key's home replicas (those a hint for a dead replica is kept for).
   */
  preferenceList(
    keyHash: number,
    factor: ReplicationFactor = 'all',
    isLive?: (id: number) => boolean,
  ): number[] {
    return this.replicasAt(placementOf(keyHash), factor, isLive);
  }

  /** The ring cut into non-wrapping arcs, each with the index of the token that owns it. */
  arcs(): { range: HashRange; token: number }[] {
    const tokens = this.#tokens;
    const out: { range: HashRange; token: number }[] = [];
    if (tokens.length === 0) return out;
    const last = tokens[tokens.length - 1]!;
    // Token 0 owns the wrap-around arc [last, 2^32) + [0, token 0).
    if (tokens[0]! > 0) out.push({ range: { start: 0, end: tokens[0]! }, token: 0 });
    for (let i = 1; i < tokens.length; i++) {
      if (tokens[i]! > tokens[i - 1]!)
        out.push({ range: { start: tokens[i - 1]!, end: tokens[i]! }, token: i });
    }
    out.push({ range: { start: last, end: RING_SIZE }, token: 0 });
    return out;
  }

  /** Each member's share of the ring (0..1) as one of the first `factor` replicas; shares sum to N. */
  ownership(factor: ReplicationFactor = 1): Map<number, number> {
    const n = this.replicaCount(factor);
    const owned = new Float64Array(this.members.length);
    for (const arc of this.arcs()) {
      const order = this.#order(arc.token);
      for (let i = 0; i < n; i++) owned[order[i]!]! += arc.range.end - arc.range.start;
    }
    return new Map(this.members.map((id, i) => [id, owned[i]! / RING_SIZE]));
  }

  /** The token positions, ascending (for tests and diagnostics). */
  tokens(): readonly number[] {
    return [...this.#tokens];
  }
}

/** A range whose replica set differs between two rings. Member lists are ascending. */
export interface RangeMove {
  readonly range: HashRange;
  readonly before: readonly number[];
  readonly after: readonly number[];
  /** Members that hold the range after the change and did not before: they must receive its data. */
  readonly gained: readonly number[];
  /** Members that held the range and no longer do: sources for a handoff, then free to drop it. */
  readonly lost: readonly number[];
}

/**
 * What a membership change moves: every range whose replicas differ between `before` and `after`,
 * adjacent ranges with the same change merged. Liveness plays no part: this is about ownership.
 */
export function diffPlacement(
  before: HashRing,
  after: HashRing,
  factor: ReplicationFactor = 'all',
): RangeMove[] {
  const bounds = new Set<number>([0, ...before.tokens(), ...after.tokens()]);
  const sorted = [...bounds].sort((a, b) => a - b);
  sorted.push(RING_SIZE);
  const moves: RangeMove[] = [];
  let open: { start: number; end: number; before: number[]; after: number[]; key: string } | undefined;
  const flush = (): void => {
    if (open === undefined) return;
    const was = new Set(open.before);
    const now = new Set(open.after);
    moves.push({
      range: { start: open.start, end: open.end },
      before: open.before,
      after: open.after,
      gained: open.after.filter((id) => !was.has(id)),
      lost: open.before.filter((id) => !now.has(id)),
    });
    open = undefined;
  };
  for (let i = 0; i + 1 < sorted.length; i++) {
    const start = sorted[i]!;
    const end = sorted[i + 1]!;
    const was = before.replicasAt(start, factor).sort((a, b) => a - b);
    const now = after.replicasAt(start, factor).sort((a, b) => a - b);
    const same = was.length === now.length && was.every((id, j) => id === now[j]);
    if (same) {
      flush();
      continue;
    }
    const key = `${was.join(',')}|${now.join(',')}`;
    if (open !== undefined && open.key === key && open.end === start) {
      open.end = end;
    } else {
      flush();
      open = { start, end, before: was, after: now, key };
    }
  }
  flush();
  return moves;
}
