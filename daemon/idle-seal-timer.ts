/**
 * Seals the open object after idleSealMs without a write (DESIGN.md §3 step 3), and in any
 * case once it has been open OPEN_OBJECT_AGE_MAX_IDLE_PERIODS idle periods, so a trickle of
 * writes still reaches the store within a bounded time. One timer at a time, re-armed for
 * the remaining time instead of on every write.
 */
import type { Clock, TimerHandle } from './clock.js';
import { OPEN_OBJECT_AGE_MAX_IDLE_PERIODS } from './volume-config.js';

export interface IdleSealTarget {
  readonly openSequence: number;
  readonly openIsEmpty: boolean;
  seal(): unknown;
}

export class IdleSealTimer {
  readonly #clock: Clock;
  readonly #idleSealMs: number;
  readonly #ageMaxMs: number;
  readonly #target: IdleSealTarget;
  #handle: TimerHandle | undefined;
  #trackedSequence = -1;
  #openedAtMs = 0;
  #lastWriteMs = 0;
  #cancelled = false;

  constructor(options: { clock: Clock; idleSealMs: number; target: IdleSealTarget }) {
    this.#clock = options.clock;
    this.#idleSealMs = options.idleSealMs;
    this.#ageMaxMs = options.idleSealMs * OPEN_OBJECT_AGE_MAX_IDLE_PERIODS;
    this.#target = options.target;
  }

  /** Call after every mutation of the open object. */
  noteWrite(): void {
    if (this.#cancelled) return;
    const nowMs = this.#clock.nowMs();
    if (this.#trackedSequence !== this.#target.openSequence) {
      this.#trackedSequence = this.#target.openSequence;
      this.#openedAtMs = nowMs;
    }
    this.#lastWriteMs = nowMs;
    if (this.#handle === undefined && !this.#target.openIsEmpty) this.#arm(this.#idleSealMs);
  }

  cancel(): void {
    this.#cancelled = true;
    if (this.#handle !== undefined) this.#clock.clearTimer(this.#handle);
    this.#handle = undefined;
  }

  #arm(delayMs: number): void {
    this.#handle = this.#clock.setTimer(() => this.#fire(), delayMs);
  }

  #fire(): void {
    this.#handle = undefined;
    if (this.#cancelled || this.#target.openIsEmpty) return;
    const nowMs = this.#clock.nowMs();
    if (this.#trackedSequence !== this.#target.openSequence) {
      // Sealed by size or a flush since; what is open now was written after that.
      this.#trackedSequence = this.#target.openSequence;
      this.#openedAtMs = this.#lastWriteMs;
    }
    const idleMs = nowMs - this.#lastWriteMs;
    const ageMs = nowMs - this.#openedAtMs;
    if (idleMs >= this.#idleSealMs || ageMs >= this.#ageMaxMs) {
      this.#target.seal();
      return;
    }
    this.#arm(Math.max(1, Math.min(this.#idleSealMs - idleMs, this.#ageMaxMs - ageMs)));
  }
}
