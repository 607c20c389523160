/** Seconds as `1m05s` or `42s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/**
 * One line per step on stderr, with the elapsed time and an ETA: the estimate of what is left, scaled
 * by how fast the estimates have come true so far.
 */
export class Progress {
  readonly #started = performance.now();
  #estimatedTotal: number;
  #estimatedDone = 0;
  #steps = 0;

  constructor(
    estimatedTotalSec: number,
    private readonly write: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
  ) {
    this.#estimatedTotal = Math.max(1, estimatedTotalSec);
  }

  get elapsedSec(): number {
    return (performance.now() - this.#started) / 1000;
  }

  /** Announces a step expected to take `estimateSec`, counted as done when the next step begins. */
  step(label: string, estimateSec: number): void {
    const elapsed = this.elapsedSec;
    const pace = this.#estimatedDone > 5 ? elapsed / this.#estimatedDone : 1;
    const left = Math.max(0, this.#estimatedTotal - this.#estimatedDone) * pace;
    this.#steps++;
    this.write(
      `[${String(this.#steps).padStart(3)}] ${formatDuration(elapsed).padStart(6)} elapsed, ETA ${formatDuration(left).padStart(6)}  ${label}`,
    );
    this.#estimatedDone += estimateSec;
    if (this.#estimatedDone > this.#estimatedTotal) this.#estimatedTotal = this.#estimatedDone;
  }

  note(text: string): void {
    this.write(`      ${text}`);
  }
}
