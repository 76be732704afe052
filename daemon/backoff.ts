/**
 * Exponential backoff with jitter for store retries. The random source is injected so a
 * simulator replays the same delays.
 */
import type { Clock, Random, TimerHandle } from './clock.js';

export interface BackoffOptions {
  /** 0 for the first retry. */
  attempt: number;
  baseDelayMs: number;
  maxDelayMs: number;
  random: Random;
}

/**
 * "Equal jitter": half the exponential delay is fixed, half random, so retries of many
 * objects that failed together spread out without ever retrying immediately.
 */
export function backoffDelayMs(options: BackoffOptions): number {
  const exponent = Math.min(options.attempt, 30);
  const ceilingMs = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** exponent);
  return Math.round(ceilingMs / 2 + (ceilingMs / 2) * options.random.nextFloat());
}

/** Thrown out of a sleep that was cancelled because the owner stopped. */
export class SleepCancelledError extends Error {
  constructor() {
    super('The sleep was cancelled because its owner stopped');
    this.name = 'SleepCancelledError';
  }
}

/** Sleeps on the injected clock that can all be cancelled at once (abandon, fence, close). */
export class CancellableSleeper {
  readonly #clock: Clock;
  readonly #sleeping = new Set<{ handle: TimerHandle; reject: (error: Error) => void }>();
  #cancelled = false;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  sleep(delayMs: number): Promise<void> {
    if (this.#cancelled) return Promise.reject(new SleepCancelledError());
    return new Promise((resolve, reject) => {
      const sleeper = {
        handle: this.#clock.setTimer(() => {
          this.#sleeping.delete(sleeper);
          resolve();
        }, delayMs),
        reject,
      };
      this.#sleeping.add(sleeper);
    });
  }

  cancelAll(): void {
    this.#cancelled = true;
    for (const sleeper of this.#sleeping) {
      this.#clock.clearTimer(sleeper.handle);
      sleeper.reject(new SleepCancelledError());
    }
    this.#sleeping.clear();
  }
}
