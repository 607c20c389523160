/**
 * Polls `GET /cluster` on some nodes and records when each saw a member change state: how long a
 * failure took to detect (suspect, then dead) and how long the member took to be alive again.
 */
import { getJson } from './http.js';

interface ClusterAnswer {
  members?: { address: string; state: string }[];
}

export interface Watch {
  observer: number;
  subject: number;
}

export interface Transition extends Watch {
  atMs: number;
  state: string;
}

export class MemberWatch {
  readonly transitions: Transition[] = [];
  #last = new Map<string, string>();
  #stopped = false;
  #done: Promise<void>;

  constructor(
    urls: readonly string[],
    addresses: readonly string[],
    watches: readonly Watch[],
    everyMs = 200,
  ) {
    this.#done = (async () => {
      while (!this.#stopped) {
        const started = Date.now();
        await Promise.all(
          watches.map(async (w) => {
            const answer = await getJson<ClusterAnswer>(`${urls[w.observer]}/cluster`, 1000);
            const member = answer?.members?.find((m) => m.address === addresses[w.subject]);
            if (member === undefined) return;
            const id = `${w.observer}>${w.subject}`;
            if (this.#last.get(id) === member.state) return;
            this.#last.set(id, member.state);
            this.transitions.push({ ...w, atMs: Date.now(), state: member.state });
          }),
        );
        await new Promise((r) => setTimeout(r, Math.max(0, everyMs - (Date.now() - started))));
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#done;
  }

  /** Milliseconds from `sinceMs` until `observer` first saw `subject` in `state`, or null. */
  firstAfter(w: Watch, state: string, sinceMs: number, untilMs = Number.POSITIVE_INFINITY): number | null {
    const hit = this.transitions.find(
      (t) =>
        t.observer === w.observer &&
        t.subject === w.subject &&
        t.state === state &&
        t.atMs >= sinceMs &&
        t.atMs <= untilMs,
    );
    return hit === undefined ? null : hit.atMs - sinceMs;
  }
}
