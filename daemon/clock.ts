/**
 * The injected world of the engine: time and randomness (DESIGN.md §2, STYLE.md habit 6).
 * Nothing under daemon/ reads Date.now(), Math.random() or setTimeout directly, so a
 * deterministic simulator can drive the same engine with a ManualClock and a seeded Random.
 */
import assert from 'node:assert/strict';

export type TimerHandle = { readonly timerId: number };

export interface Clock {
  nowMs(): number;
  setTimer(callback: () => void, delayMs: number): TimerHandle;
  clearTimer(handle: TimerHandle): void;
  sleep(delayMs: number): Promise<void>;
}

export interface Random {
  /** Uniform in [0, 1). */
  nextFloat(): number;
  /** Uniform integer in [0, bound). */
  nextInt(bound: number): number;
}

/** Wall-clock time and Node timers. */
export class RealClock implements Clock {
  readonly #timers = new Map<number, NodeJS.Timeout>();
  #nextTimerId = 1;

  nowMs(): number {
    return Date.now();
  }

  setTimer(callback: () => void, delayMs: number): TimerHandle {
    const timerId = this.#nextTimerId++;
    const timeout = setTimeout(() => {
      this.#timers.delete(timerId);
      callback();
    }, delayMs);
    this.#timers.set(timerId, timeout);
    return { timerId };
  }

  clearTimer(handle: TimerHandle): void {
    const timeout = this.#timers.get(handle.timerId);
    if (timeout !== undefined) clearTimeout(timeout);
    this.#timers.delete(handle.timerId);
  }

  sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => this.setTimer(resolve, delayMs));
  }
}

/**
 * Time that moves only when told to: `advance(ms)` runs every timer that falls due, in due
 * order (ties in creation order). For simulators and tests.
 */
export class ManualClock implements Clock {
  readonly #timers = new Map<number, { dueMs: number; callback: () => void }>();
  #nowMs: number;
  #nextTimerId = 1;

  constructor(options: { startMs?: number } = {}) {
    this.#nowMs = options.startMs ?? 0;
  }

  nowMs(): number {
    return this.#nowMs;
  }

  setTimer(callback: () => void, delayMs: number): TimerHandle {
    assert(delayMs >= 0, 'a timer cannot fire in the past');
    const timerId = this.#nextTimerId++;
    this.#timers.set(timerId, { dueMs: this.#nowMs + delayMs, callback });
    return { timerId };
  }

  clearTimer(handle: TimerHandle): void {
    this.#timers.delete(handle.timerId);
  }

  sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => this.setTimer(resolve, delayMs));
  }

  get pendingTimerCount(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `deltaMs`, firing due timers one at a time. */
  advance(deltaMs: number): void {
    assert(deltaMs >= 0);
    const targetMs = this.#nowMs + deltaMs;
    for (;;) {
      const next = this.#nextDue(targetMs);
      if (next === undefined) break;
      this.#timers.delete(next.timerId);
      this.#nowMs = next.dueMs;
      next.callback();
    }
    this.#nowMs = targetMs;
  }

  #nextDue(limitMs: number): { timerId: number; dueMs: number; callback: () => void } | undefined {
    let best: { timerId: number; dueMs: number; callback: () => void } | undefined;
    for (const [timerId, timer] of this.#timers) {
      if (timer.dueMs > limitMs) continue;
      if (best === undefined || timer.dueMs < best.dueMs) best = { timerId, ...timer };
    }
    return best;
  }
}

/**
 * sfc32 (Chris Doty-Humphrey's Small Fast Counter), seeded from one 32-bit integer.
 * Deterministic for a given seed, which is what a simulator replaying a seed needs.
 */
export class SeededRandom implements Random {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    assert(Number.isInteger(seed), 'the seed is an integer');
    this.#a = 0x9e3779b9;
    this.#b = 0x243f6a88;
    this.#c = 0xb7e15162;
    this.#d = seed >>> 0;
    // The generator's authors recommend discarding the first outputs to mix the seed in.
    for (let round = 0; round < 12; round++) this.#nextUint32();
  }

  nextFloat(): number {
    return this.#nextUint32() / 0x1_0000_0000;
  }

  nextInt(bound: number): number {
    assert(Number.isInteger(bound) && bound > 0 && bound <= 0x1_0000_0000, 'bound is a positive 32-bit integer');
    return Math.floor(this.nextFloat() * bound);
  }

  #nextUint32(): number {
    const a = this.#a;
    const b = this.#b;
    const c = this.#c;
    const d = this.#d;
    const t = (((a + b) | 0) + d) | 0;
    this.#d = (d + 1) | 0;
    this.#a = b ^ (b >>> 9);
    this.#b = (c + (c << 3)) | 0;
    this.#c = (c << 21) | (c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }
}

/** `count` random bytes as lowercase hex: volume ids and archive batch ids. */
export function randomHex(random: Random, countBytes: number): string {
  let hex = '';
  for (let index = 0; index < countBytes; index++) hex += random.nextInt(256).toString(16).padStart(2, '0');
  return hex;
}
