/**
 * Time for the cluster's state machines, injected so that tests run them on a fake clock: a failure
 * detector whose timeouts are seconds can then be checked over minutes of simulated time in
 * milliseconds, deterministically.
 */
export interface Scheduler {
  /** Milliseconds since the epoch (or any fixed origin). */
  now(): number;
  /** Runs `fn` once after `ms`; the returned function cancels it (a no-op once it ran). */
  setTimeout(fn: () => void, ms: number): () => void;
}

/** The real clock. Timers are unref'd: membership alone must not keep a process alive. */
export const systemScheduler: Scheduler = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const handle = setTimeout(fn, ms);
    handle.unref();
    return () => clearTimeout(handle);
  },
};

/** Resolves to the promise's value, or to undefined when it rejects or `ms` pass first. */
export function settleWithin<T>(
  scheduler: Scheduler,
  promise: Promise<T>,
  ms: number,
): Promise<T | undefined> {
  return new Promise((resolve) => {
    let done = false;
    const cancel = scheduler.setTimeout(
      () => {
        done = true;
        resolve(undefined);
      },
      Math.max(0, ms),
    );
    promise.then(
      (value) => {
        if (done) return;
        done = true;
        cancel();
        resolve(value);
      },
      () => {
        if (done) return;
        done = true;
        cancel();
        resolve(undefined);
      },
    );
  });
}
