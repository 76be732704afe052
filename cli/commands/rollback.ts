/**
 * `lsvd rollback --to <sequence>`: the volume becomes what it was after log object
 * `<sequence>` (DESIGN.md §3 "Rollback"): every later log object and companion is moved to
 * `archive/<batch>/` (recovery/rollback.ts), never deleted. Refused while a daemon holds the
 * lease (its memory and uploads would not know), unless --force: the operator made sure it is
 * stopped. `--to` must be within the gap-free prefix: past a gap there is no state to go to.
 */

import { randomInt } from 'node:crypto';
import type { Command } from 'commander';
import { RealClock, SeededRandom } from '../../daemon/clock.js';
import { formatBatchId } from '../../daemon/open-volume.js';
import { LogFormatError } from '../../logformat/errors.js';
import { ARCHIVE_KEY_PREFIX } from '../../logformat/keys.js';
import type { Lease } from '../../logformat/lease.js';
import { SEQUENCE_FIRST, SEQUENCE_MAX } from '../../logformat/limits.js';
import { RecoveryError } from '../../recovery/errors.js';
import { describeHolder, readLease } from '../../recovery/lease.js';
import { rollback } from '../../recovery/rollback.js';
import { prefixEnd, scanBucket } from '../../recovery/scan.js';
import type { ObjectStore } from '../../store/object-store.js';
import { addStoreOptions, describeStoreConfig } from '../config.js';
import type { StoreFlags } from '../config.js';
import { commandLogger, commandStoreConfig, withStore } from '../context.js';
import type { CommandContext } from '../context.js';
import { addLoggingOptions } from '../logger.js';
import type { Logger, LoggingFlags } from '../logger.js';
import { usageError } from '../errors.js';
import { parseSequence } from '../parse.js';

interface RollbackFlags extends StoreFlags, LoggingFlags {
  to: string;
  force?: boolean;
  json?: boolean;
}

/** A sequence number as `parseSequence` reads it, or 0: before the first object (an empty volume). */
export function parseSequenceOrZero(text: string, what: string): number {
  if (/^0+$/.test(text)) return SEQUENCE_FIRST - 1;
  try {
    return parseSequence(text, what);
  } catch {
    // parseSequence's message would not mention 0, which is accepted here.
  }
  throw usageError(`${what} must be 0 (the empty volume), a sequence number ${SEQUENCE_FIRST}..${SEQUENCE_MAX} or a 16-hex-digit log key, not ${JSON.stringify(text)}`);
}

/** The lease, `'unreadable'` when lease.json exists but does not decode, or undefined when free. */
async function leaseOf(store: ObjectStore): Promise<Lease | 'unreadable' | undefined> {
  try {
    return await readLease(store);
  } catch (error) {
    if (error instanceof LogFormatError) return 'unreadable';
    throw error;
  }
}

async function refuseWhileHeld(options: { store: ObjectStore; force: boolean; logger: Logger }): Promise<void> {
  const { store, logger } = options;
  const lease = await leaseOf(store);
  if (lease === undefined) return;
  const holder = lease === 'unreadable' ? 'whoever wrote lease.json (it cannot be decoded)' : describeHolder(lease);
  if (options.force) {
    logger.warn({ lease }, `Rolling back although the volume is held by ${holder} (--force): that daemon must be stopped, or its next upload lands after a gap.`);
    return;
  }
  throw new RecoveryError(
    'ERR_LEASE_HELD',
    `The volume in ${store.description} is held by ${holder}. A rollback under a running daemon corrupts the volume: stop the daemon first (a clean shutdown releases the lease); if it is gone for good, pass --force.`,
    { objectKey: 'lease.json' },
  );
}

/** `--to` must leave a consistent volume: an object of the gap-free prefix (or 0). */
async function checkTarget(options: { store: ObjectStore; toSequence: number; logger: Logger }): Promise<number> {
  const { store, toSequence } = options;
  const prefixEndSequence = prefixEnd(await scanBucket({ store, logger: options.logger }));
  if (toSequence > prefixEndSequence) {
    const prefix = prefixEndSequence < SEQUENCE_FIRST ? 'the log is empty' : `the gap-free log runs from ${SEQUENCE_FIRST} to ${prefixEndSequence}`;
    throw new RecoveryError('ERR_ROLLBACK_TARGET_INVALID', `Cannot roll back to log object ${toSequence} in ${store.description}: ${prefix}; give --to from ${SEQUENCE_FIRST - 1} to ${prefixEndSequence}`);
  }
  return prefixEndSequence;
}

async function movedKeys(store: ObjectStore, batchId: string): Promise<{ key: string; archiveKey: string }[]> {
  const batchPrefix = `${ARCHIVE_KEY_PREFIX}${batchId}/`;
  const moved: { key: string; archiveKey: string }[] = [];
  for await (const info of store.list({ prefix: batchPrefix })) moved.push({ key: info.key.slice(batchPrefix.length), archiveKey: info.key });
  return moved;
}

async function runRollback(context: CommandContext, flags: RollbackFlags): Promise<void> {
  const logger = commandLogger(context, flags);
  const config = commandStoreConfig(context, flags);
  const toSequence = parseSequenceOrZero(flags.to, '--to');
  const clock = new RealClock();
  const batchId = formatBatchId(clock, new SeededRandom(randomInt(2 ** 31)));
  const outcome = await withStore({
    context,
    config,
    use: async (store) => {
      await refuseWhileHeld({ store, force: flags.force === true, logger });
      await checkTarget({ store, toSequence, logger });
      const { archivedCount } = await rollback({ store, toSequence, logger, clock, batchId });
      return { archivedCount, moved: await movedKeys(store, batchId) };
    },
  });
  const { stdout } = context.io;
  const store = describeStoreConfig(config);
  if (flags.json === true) {
    stdout.write(`${JSON.stringify({ store, toSequence, batchId, archivedCount: outcome.archivedCount, moved: outcome.moved }, null, 2)}\n`);
    return;
  }
  if (outcome.moved.length === 0) {
    stdout.write(`Nothing after log object ${toSequence} in ${store}: nothing was moved.\n`);
    return;
  }
  const lines = [
    `Rolled back ${store} to log object ${toSequence}: moved ${outcome.moved.length} objects to ${ARCHIVE_KEY_PREFIX}${batchId}/`,
    ...outcome.moved.map(({ key, archiveKey }) => `  ${key} -> ${archiveKey}`),
    `To undo, copy them back under their original keys (with no daemon running).`,
  ];
  stdout.write(`${lines.join('\n')}\n`);
}

export function registerRollback(program: Command, context: CommandContext): void {
  const command = program
    .command('rollback')
    .description('make the volume what it was after log object <sequence>: later objects are moved to archive/, never deleted')
    .requiredOption('--to <sequence>', 'the last log object to keep: a sequence number (0 empties the volume) or a 16-hex-digit key')
    .option('--force', 'roll back although lease.json names a daemon (only once that daemon is surely stopped)')
    .option('--json', 'machine-readable output');
  addStoreOptions(command);
  addLoggingOptions(command);
  command.action(async (_options: unknown, self: Command) => runRollback(context, self.opts<RollbackFlags>()));
}
