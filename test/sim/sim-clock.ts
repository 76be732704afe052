/**
 * Simulated time: the engine's own ManualClock, plus what a discrete-event loop needs from
 * it — the due time of the next timer — so the simulator can jump straight to it instead of
 * ticking through idle milliseconds. Time moves only when the loop calls `advance`.
 */
import assert from 'node:assert/strict';
import { type Clock, ManualClock, type TimerHandle } from '../../daemon/clock.js';

export class SimClock extends ManualClock {
  /** timerId → due time of every timer not yet fired or cleared. */
  readonly #dueMsById = new Map<number, number>();
  #timersSetCount = 0;

  override setTimer(callback: () => void, delayMs: number): TimerHandle {
    assert(Number.isFinite(delayMs), 'a timer has a finite delay');
    this.#timersSetCount++;
    const handle = super.setTimer(() => {
      this.#dueMsById.delete(handle.timerId);
      callback();
    }, delayMs);
    this.#dueMsById.set(handle.timerId, this.nowMs() + delayMs);
    return handle;
  }

  override clearTimer(handle: TimerHandle): void {
    this.#dueMsById.delete(handle.timerId);
    super.clearTimer(handle);
  }

  /** Timers set since the start, by anyone (engine and simulator). */
  get timersSetCount(): number {
    return this.#timersSetCount;
  }

  /** The due time of the earliest pending timer, or undefined when none is pending. */
  nextDueMs(): number | undefined {
    let earliestMs: number | undefined;
    for (const dueMs of this.#dueMsById.values()) {
      if (earliestMs === undefined || dueMs < earliestMs) earliestMs = dueMs;
    }
    return earliestMs;
  }
}

/**
 * A clock for one daemon process: it forwards to the world's clock and remembers its timers,
 * so a simulated crash can cancel the timers of the process that died (its engine keeps
 * none after abandon(), but recovery still running at the crash has retry sleeps).
 */
export class ProcessClock implements Clock {
  readonly #world: SimClock;
  readonly #handles = new Set<TimerHandle>();
  #dead = false;

  constructor(world: SimClock) {
    this.#world = world;
  }

  nowMs(): number {
    return this.#world.nowMs();
  }

  setTimer(callback: () => void, delayMs: number): TimerHandle {
    const handle = this.#world.setTimer(() => {
      this.#handles.delete(handle);
      callback();
    }, delayMs);
    // A dead process runs nothing: its timer is set (so handles stay valid) and cleared at once.
    if (this.#dead) this.#world.clearTimer(handle);
    else this.#handles.add(handle);
    return handle;
  }

  clearTimer(handle: TimerHandle): void {
    this.#handles.delete(handle);
    this.#world.clearTimer(handle);
  }

  sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => this.setTimer(resolve, delayMs));
  }

  /** Timers this process has pending. */
  get pendingTimerCount(): number {
    return this.#handles.size;
  }

  /** The process died: none of its timers fires, now or later. */
  kill(): void {
    this.#dead = true;
    for (const handle of this.#handles) this.#world.clearTimer(handle);
    this.#handles.clear();
  }
}

/**
 * Lets every promise continuation that is ready run: setImmediate fires only once the
 * microtask queue is empty. No time passes and no timer is involved; with the store and the
 * clock simulated, nothing else can be waiting, so the order is the same on every run.
 */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
