/**
 * Bounded retries for recovery's store requests. Recovery runs before the device is
 * attached, so a store that keeps failing ends start-up with a clear error instead of
 * hanging; a supervisor restarts the daemon. The sleep is injected (no timers read here).
 */
import { RecoveryError } from './errors.js';
import { describeError, isRetryable } from './store-errors.js';

export interface Sleeper {
  sleep(delayMs: number): Promise<void>;
}

/** Retries at once, for callers without a clock (tests, one-shot tools); pass a Clock to back off. */
export const NO_WAIT_SLEEPER: Sleeper = { sleep: async () => {} };

/** Attempts per request, and the first delay between them (doubling). */
export const RECOVERY_ATTEMPTS_MAX = 6;
export const RECOVERY_RETRY_BASE_DELAY_MS = 200;

export async function withRetries<T>(options: { clock: Sleeper; what: string; objectKey: string; run: () => Promise<T> }): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await options.run();
    } catch (error) {
      if (error instanceof RecoveryError) throw error;
      if (!isRetryable(error) || attempt === RECOVERY_ATTEMPTS_MAX) {
        throw new RecoveryError('ERR_RECOVERY_STORE_FAILED', `Cannot ${options.what} "${options.objectKey}" after ${attempt} attempts: ${describeError(error)}`, {
          objectKey: options.objectKey,
          cause: error,
        });
      }
      await options.clock.sleep(RECOVERY_RETRY_BASE_DELAY_MS * 2 ** (attempt - 1));
    }
  }
}
