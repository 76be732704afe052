/**
 * The requests one simulated process has in flight, as events on the simulated clock: a
 * change (PUT, DELETE) lands at one moment and is answered at another; a read (GET, HEAD,
 * a LIST page) is answered once, with what the bucket holds at that moment.
 */
import type { TimerHandle } from '../../daemon/clock.js';
import { StoreError, type StoreErrorCode } from '../../store/errors.js';
import type { ChangePlan, RequestError, RequestPlan } from './faults.js';
import type { SimClock } from './sim-clock.js';

/** A PUT of a log object or companion that may land after its process died. */
export interface Zombie {
  key: string;
  bytes: Uint8Array;
  createOnly: boolean;
  processId: number;
}

export interface PendingRequest {
  describe: string;
  /** For a PUT of a log object or companion: what a zombie of it would land. */
  zombie: Zombie | undefined;
  timers: TimerHandle[];
  /** Set until the change lands (or is dropped). */
  land: (() => void) | undefined;
  /** Set until the caller has its answer. */
  fail: ((error: Error) => void) | undefined;
}

const ERROR_CODE: Readonly<Record<RequestError, StoreErrorCode>> = {
  unavailable: 'ERR_STORE_UNAVAILABLE',
  throttled: 'ERR_STORE_THROTTLED',
  timeout: 'ERR_STORE_UNAVAILABLE',
  outage: 'ERR_STORE_UNAVAILABLE',
};

export class RequestScheduler {
  readonly #clock: SimClock;
  readonly #trace: (message: string) => void;
  readonly #pending = new Set<PendingRequest>();

  constructor(options: { clock: SimClock; trace(message: string): void }) {
    this.#clock = options.clock;
    this.#trace = options.trace;
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  /** A PUT or DELETE: `apply` runs when it lands, `answer` (which may throw) when it is answered. */
  change(options: { describe: string; plan: ChangePlan; zombie: Zombie | undefined; apply(): void; answer(): void }): Promise<void> {
    const { describe, plan } = options;
    return new Promise((resolve, reject) => {
      const request: PendingRequest = { describe, zombie: options.zombie, timers: [], land: undefined, fail: reject };
      const forgetIfDone = () => {
        if (request.land === undefined && request.fail === undefined) this.#pending.delete(request);
      };
      if (plan.landDelayMs !== undefined) {
        request.land = () => {
          request.land = undefined;
          options.apply();
        };
        request.timers.push(this.#clock.setTimer(() => {
          request.land?.();
          forgetIfDone();
        }, plan.landDelayMs));
      }
      request.timers.push(this.#clock.setTimer(() => {
        request.fail = undefined;
        forgetIfDone();
        this.#traceAnswer(describe, plan);
        if (plan.error !== undefined) return reject(requestError(plan.error, describe));
        try {
          options.answer();
          resolve();
        } catch (error) {
          reject(error);
        }
      }, plan.replyDelayMs));
      this.#pending.add(request);
    });
  }

  /** A request that changes nothing, answered per plan with `produce()` evaluated at answer time. */
  read<T>(options: { describe: string; plan: RequestPlan; produce(): T }): Promise<T> {
    const { describe, plan } = options;
    return new Promise((resolve, reject) => {
      const request: PendingRequest = { describe, zombie: undefined, timers: [], land: undefined, fail: reject };
      request.timers.push(this.#clock.setTimer(() => {
        this.#pending.delete(request);
        this.#traceAnswer(describe, plan);
        if (plan.error !== undefined) return reject(requestError(plan.error, describe));
        try {
          resolve(options.produce());
        } catch (error) {
          reject(error);
        }
      }, plan.replyDelayMs));
      this.#pending.add(request);
    });
  }

  /** Every request in flight, its timers cancelled, handed over for the crash to settle. */
  drain(): PendingRequest[] {
    const pending = [...this.#pending];
    this.#pending.clear();
    for (const request of pending) for (const timer of request.timers) this.#clock.clearTimer(timer);
    return pending;
  }

  #traceAnswer(describe: string, plan: RequestPlan): void {
    this.#trace(`${describe} answered ${plan.error ?? 'ok'} after ${plan.replyDelayMs.toFixed(1)} ms`);
  }
}

function requestError(error: RequestError, describe: string): StoreError {
  const message = error === 'timeout' ? `${describe}: no answer before the request timeout` : `${describe}: injected ${error}`;
  return storeError(ERROR_CODE[error], message);
}

/** A StoreError without a stack trace: injected failures are many, and their stacks say nothing. */
export function storeError(code: StoreErrorCode, message: string, key?: string): StoreError {
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new StoreError(code, message, key === undefined ? {} : { key });
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
}
