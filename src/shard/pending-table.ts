/**
 * Requests waiting for another shard's answer, by request id. Ids are handed out in sequence, so the
 * live ones span a window: a power-of-two table indexed by `id & mask` finds them without hashing (a
 * Map showed up in profiles of the hop path). On a collision the table doubles until the window fits.
 */
export class PendingTable<T> {
  #ids: number[];
  #values: (T | undefined)[];
  #mask: number;
  #size = 0;

  constructor(initialCapacity = 1024) {
    let capacity = 1;
    while (capacity < initialCapacity) capacity *= 2;
    this.#ids = new Array<number>(capacity).fill(0);
    this.#values = new Array<T | undefined>(capacity).fill(undefined);
    this.#mask = capacity - 1;
  }

  get size(): number {
    return this.#size;
  }

  get capacity(): number {
    return this.#mask + 1;
  }

  add(id: number, value: T): void {
    while (this.#values[id & this.#mask] !== undefined) this.#grow();
    const slot = id & this.#mask;
    this.#ids[slot] = id;
    this.#values[slot] = value;
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
      let collided = false;
      for (let slot = 0; slot < values.length && !collided; slot++) {
        const value = values[slot];
        if (value === undefined) continue;
        const target = ids[slot]! & mask;
        if (nextValues[target] !== undefined) collided = true;
        nextIds[target] = ids[slot]!;
        nextValues[target] = value;
      }
      if (!collided) {
        this.#ids = nextIds;
        this.#values = nextValues;
        this.#mask = mask;
        return;
      }
      capacity *= 2;
    }
  }
}
