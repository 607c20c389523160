/**
 * Which member to probe next: round-robin over a shuffled list, reshuffled after each full pass, as
 * memberlist does. Unlike picking at random, it bounds the time until a given member is probed by this
 * node to one pass (n - 1 probe intervals), and a member that joins mid-pass is put at a random place
 * in the rest of the pass.
 */
export class ProbeOrder {
  #list: number[] = [];
  readonly #inList = new Set<number>();
  #index = 0;

  /** The next member to probe among `candidates`, or undefined when there is none. */
  next(candidates: readonly number[], random: () => number): number | undefined {
    if (candidates.length === 0) return undefined;
    const wanted = new Set(candidates);
    for (const id of candidates) {
      if (this.#inList.has(id)) continue;
      this.#inList.add(id);
      // Insert at a random place in what is left of this pass.
      const at = this.#index + Math.floor(random() * (this.#list.length - this.#index + 1));
      this.#list.splice(at, 0, id);
    }
    for (let tries = 0; tries <= this.#list.length; tries++) {
      if (this.#index >= this.#list.length) this.#reshuffle(wanted, random);
      const id = this.#list[this.#index++]!;
      if (wanted.has(id)) return id;
    }
    return undefined;
  }

  #reshuffle(wanted: ReadonlySet<number>, random: () => number): void {
    const list = this.#list.filter((id) => wanted.has(id));
    for (let i = list.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [list[i], list[j]] = [list[j]!, list[i]!];
    }
    this.#list = list;
    this.#inList.clear();
    for (const id of list) this.#inList.add(id);
    this.#index = 0;
  }
}
