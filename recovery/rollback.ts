/**
 * `lsvd rollback --to <seq>` (DESIGN.md §3 "Rollback"): the volume becomes exactly what it
 * was after log object `toSequence`, by moving every later log object and its zero-range
 * companion to `archive/<batchId>/`. Deleting those trailing objects by hand gives the same
 * volume (recovery then archives orphaned companions); rollback only keeps them.
 *
 * Objects move highest sequence first, each log object before its companion, so a crash
 * midway still leaves a gap-free prefix whose objects are all complete.
 *
 * Rollback must not run while a daemon holds the volume: the daemon's memory and its
 * uploads would not know. (The writer lease of DESIGN.md §6 will enforce this.)
 */
import type { Logger } from 'pino';
import { formatLogKey, formatZeroRangesKey } from '../logformat/keys.js';
import { SEQUENCE_FIRST, SEQUENCE_MAX } from '../logformat/limits.js';
import type { ObjectStore } from '../store/object-store.js';
import { archiveObject } from './archive.js';
import { RecoveryError } from './errors.js';
import { NO_WAIT_SLEEPER, type Sleeper } from './retry.js';
import { scanBucket } from './scan.js';

export interface RollbackOptions {
  store: ObjectStore;
  /** Keep objects up to and including this one; SEQUENCE_FIRST - 1 empties the volume. */
  toSequence: number;
  logger: Logger;
  /** Backs off between retries of failed store requests; without it they retry at once. */
  clock?: Sleeper;
  batchId: string;
}

export interface RollbackResult {
  archivedCount: number;
}

export async function rollback(options: RollbackOptions): Promise<RollbackResult> {
  const { store, toSequence, logger } = options;
  const moveOptions = { store, clock: options.clock ?? NO_WAIT_SLEEPER, batchId: options.batchId };
  if (!Number.isSafeInteger(toSequence) || toSequence < SEQUENCE_FIRST - 1 || toSequence > SEQUENCE_MAX) {
    throw new RecoveryError('ERR_ROLLBACK_TARGET_INVALID', `Cannot roll back to ${toSequence}: give a sequence number from ${SEQUENCE_FIRST - 1} (an empty volume) upwards`);
  }
  const scan = await scanBucket({ store, logger });
  const sequences = new Set([...scan.logObjectSizes.keys(), ...scan.zeroRangeSequences].filter((sequence) => sequence > toSequence));
  const descending = [...sequences].sort((left, right) => right - left);
  let archivedCount = 0;
  for (const sequence of descending) {
    if (scan.logObjectSizes.has(sequence)) {
      await archiveObject({ ...moveOptions, key: formatLogKey(sequence) });
      archivedCount++;
    }
    if (scan.zeroRangeSequences.has(sequence)) {
      await archiveObject({ ...moveOptions, key: formatZeroRangesKey(sequence) });
      archivedCount++;
    }
  }
  logger.info({ toSequence, archivedCount, batchId: options.batchId }, `Rolled back to log object ${toSequence}: archived ${archivedCount} objects to archive/${options.batchId}/.`);
  return { archivedCount };
}
