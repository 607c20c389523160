/**
 * Requests waiting for another shard's answer, by request id. Ids are handed out in sequence, so the
 * live ones span a window: a power-of-two table indexed by `id & mask` finds them without hashing (a
 * Map showed up in profiles of the hop path). On a collision the table doubles until the window fits.
 *
 * Each entry also keeps the shard it waits for and the tick it was sent in: `expire` finds the
 * entries older than a deadline with one scan per tick, so no request carries a timer of its own.
 */
export class PendingTable<T> {
  #ids: number[];
  #values: (T | undefined)[];
  #owners: number[];
  #ticks: number[];
  #mask: number;
  #size = 0;

  constructor(initialCapacity = 1024) {
    let capacity = 1;
    while (capacity < initialCapacity) capacity *= 2;
    this.#ids = new Array<number>(capacity).fill(0);
    this.#values = new Array<T | undefined>(capacity).fill(undefined);
    this.#owners = new Array<number>(capacity).fill(0);
    this.#ticks = new Array<number>(capacity).fill(0);
    this.#mask = capacity - 1;
  }

  get size(): number {
    return this.#size;
  }

  get capacity(): number {
    return this.#mask + 1;
  }

  /** Adds `value` under `id`, waiting for shard `owner` since `tick` (see `expire`). */
  add(id: number, value: T, owner = 0, tick = 0): void {
    while (this.#values[id & this.#mask] !== undefined) this.#grow();
    const slot = id & this.#mask;
    this.#ids[slot] = id;
    this.#values[slot] = value;
    this.#owners[slot] = owner;
    this.#ticks[slot] = tick;
    this.#size++;
  }

  /** Removes and returns the value waiting under `id`, or undefined when there is none. */
  take(id: number): T | undefined {
    const slot = id & this.#mask;
    const value = this.#values[slot];
    if (value === undefined || this.#ids[slot] !== id) return undefined;
    this.#values[slot] = undefined;
    this.#size--;
    return value;
  }

  /**
   * Removes every entry added at or before `lastTick` and hands it to `onExpired` with its owner.
   * A scan of the table: called once per tick (a fraction of the deadline), never per request.
   */
  expire(lastTick: number, onExpired: (value: T, owner: number) => void): number {
    if (this.#size === 0) return 0;
    const expired: [T, number][] = [];
    for (let slot = 0; slot <= this.#mask; slot++) {
      const value = this.#values[slot];
      if (value === undefined || this.#ticks[slot]! > lastTick) continue;
      this.#values[slot] = undefined;
      this.#size--;
      expired.push([value, this.#owners[slot]!]);
    }
    // Callbacks run after the scan: one may add entries (and grow the table) while we iterate.
    for (const [value, owner] of expired) onExpired(value, owner);
    return expired.length;
  }

  /** Removes and returns every waiting value. */
  drain(): T[] {
    const values: T[] = [];
    for (let slot = 0; slot <= this.#mask; slot++) {
      const value = this.#values[slot];
      if (value !== undefined) values.push(value);
      this.#values[slot] = undefined;
    }
    this.#size = 0;
    return values;
  }

  #grow(): void {
    const ids = this.#ids;
    const values = this.#values;
    let capacity = (this.#mask + 1) * 2;
    for (;;) {
      const mask = capacity - 1;
      const nextIds = new Array<number>(capacity).fill(0);
      const nextValues = new Array<T | undefined>(capacity).fill(undefined);
      const nextOwners = new Array<number>(capacity).fill(0);
      const nextTicks = new Array<number>(capacity).fill(0);
      let collided = false;
      for (let slot = 0; slot < values.length && !collided; slot++) {
        const value = values[slot];
        if (value === undefined) continue;
        const target = ids[slot]! & mask;
        if (nextValues[target] !== undefined) collided = true;
        nextIds[target] = ids[slot]!;
        nextValues[target] = value;
        nextOwners[target] = this.#owners[slot]!;
        nextTicks[target] = this.#ticks[slot]!;
      }
      if (!collided) {
        this.#ids = nextIds;
        this.#values = nextValues;
        this.#owners = nextOwners;
        this.#ticks = nextTicks;
        this.#mask = mask;
        return;
      }
      capacity *= 2;
    }
  }
}
