/**
 * The operator's answer to a fence (DESIGN.md §6): another writer's objects are in the
 * volume's way, so roll back to before the first of them (`lsvd rollback --to <n>`, the
 * real `recovery/rollback.ts`) and start the daemon again.
 */
import type { Logger } from 'pino';
import type { SeededRandom } from '../../daemon/clock.js';
import { formatBatchId } from '../../daemon/open-volume.js';
import { rollback } from '../../recovery/rollback.js';
import type { ObjectStore } from '../../store/object-store.js';
import { describe, isRestartable, sequenceOfKey } from './error-text.js';
import type { SimClock } from './sim-clock.js';

/** Rollback attempts by the operator before the run gives up (a store outage lasts up to 20 s). */
const ROLLBACK_ATTEMPTS_MAX = 30;
/** The operator's first pause between two attempts, doubling up to the ceiling. */
const ROLLBACK_RETRY_DELAY_MS = 500;
const ROLLBACK_RETRY_DELAY_MAX_MS = 10_000;

/** The sequence to roll back to: just before the lowest object among `foreignKeys`. */
export function rollbackTarget(foreignKeys: Iterable<string>): number {
  const sequences = [...foreignKeys].map(sequenceOfKey).filter((sequence) => sequence !== undefined);
  return Math.min(...sequences) - 1;
}

/** True once rolled back; false (after reporting) when the store kept failing. */
export async function rollBack(options: {
  store: ObjectStore;
  toSequence: number;
  clock: SimClock;
  random: SeededRandom;
  logger: Logger;
  /** Called after each failed attempt (the simulator calms LIST pages after a few, as at start-up). */
  onAttemptFailed(attempt: number): void;
  violation(message: string): void;
}): Promise<boolean> {
  const { store, toSequence, clock, random, logger } = options;
  for (let attempt = 1; ; attempt++) {
    try {
      await rollback({ store, toSequence, logger, clock, batchId: formatBatchId(clock, random) });
      return true;
    } catch (error) {
      if (!isRestartable(error) || attempt === ROLLBACK_ATTEMPTS_MAX) {
        options.violation(`rollback to ${toSequence} failed: ${describe(error)}`);
        return false;
      }
      options.onAttemptFailed(attempt);
      await clock.sleep(Math.min(ROLLBACK_RETRY_DELAY_MAX_MS, ROLLBACK_RETRY_DELAY_MS * 2 ** attempt));
    }
  }
}
