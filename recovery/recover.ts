/**
 * Start-up recovery (DESIGN.md §3 "Recovery", §1): list the keys, take the gap-free run of
 * log objects from SEQUENCE_FIRST, fetch and validate every header (12 KiB ranged GETs, many
 * in parallel), and hand each object to the caller IN ORDER, with its zero ranges. Only once
 * the whole prefix has been read is anything changed: log objects after the first gap and
 * zero-range companions without their log object are archived.
 *
 * A corrupt object inside the prefix is not guessed around: recovery stops with an error
 * naming the key and the way out (roll back to the object before it), having changed
 * nothing in the bucket.
 *
 * The operator tools (`lsvd export`, `lsvd verify`) recover read-only: nothing is archived
 * (the result says what a start-up would archive), and replay may stop at an earlier object
 * of the prefix, since every object boundary is a state the disk really had (DESIGN.md §1).
 */
import PQueue from 'p-queue';
import type { Logger } from 'pino';
import { formatLogKey, formatZeroRangesKey } from '../logformat/keys.js';
import { HEADER_SIZE_BYTES, SEQUENCE_FIRST } from '../logformat/limits.js';
import { checkLogObjectLength, decodeLogHeader, type LogEntry } from '../logformat/log-object.js';
import { decodeZeroRanges, type ZeroRange } from '../logformat/zero-ranges.js';
import type { ObjectStore } from '../store/object-store.js';
import { archiveObject } from './archive.js';
import { RecoveryError } from './errors.js';
import { type Sleeper, withRetries } from './retry.js';
import { type BucketScan, prefixEnd, scanBucket } from './scan.js';

/** Header GETs in flight at once (DESIGN.md §3: 100 in parallel). */
export const HEADER_FETCHES_IN_FLIGHT_MAX = 100;
/** Decoded objects waiting for their turn; bounds memory when early objects are slow. */
export const HEADERS_AHEAD_MAX = 400;
/** Objects being archived at once; each is held in memory whole while it is copied. */
export const ARCHIVE_MOVES_IN_FLIGHT_MAX = 8;

export interface RecoveredObject {
  sequence: number;
  /** In header order; entry i's data starts at the sum of the sizes of entries 0..i-1. */
  entries: LogEntry[];
  /** Apply BEFORE the entries: these ranges read as zeros. */
  zeroRanges: ZeroRange[];
}

interface RecoverBaseOptions {
  store: ObjectStore;
  logger: Logger;
  clock: Sleeper;
  volumeSizeBytes: number;
  /** Called once per object of the prefix, in sequence order. */
  onObject(object: RecoveredObject): void;
}

/** The daemon's start-up: what cannot be replayed is moved to `archive/<batchId>/`. */
export interface ArchivingRecoverOptions extends RecoverBaseOptions {
  readOnly?: false;
  /** Names this run's archive folder, `archive/<batchId>/`. */
  batchId: string;
}

/** The operator tools: nothing in the bucket changes. */
export interface ReadOnlyRecoverOptions extends RecoverBaseOptions {
  readOnly: true;
  /**
   * Replay only objects up to and including this one (SEQUENCE_FIRST - 1: none); it must be
   * within the gap-free prefix, else ERR_RECOVERY_TARGET_INVALID. Default: the whole prefix.
   */
  throughSequence?: number;
}

export type RecoverOptions = ArchivingRecoverOptions | ReadOnlyRecoverOptions;

export interface RecoveryResult {
  /** The last replayed sequence; SEQUENCE_FIRST - 1 for an empty volume. */
  lastSequence: number;
  processedCount: number;
  archivedCount: number;
  unknownKeyCount: number;
  /** Read-only recovery only: the last sequence of the gap-free prefix (at or after `lastSequence`). */
  prefixEndSequence?: number;
  /**
   * Read-only recovery only: the keys a start-up would archive (log objects after the first
   * gap, companions without a log object in the prefix), left in place.
   */
  unreplayableKeys?: string[];
}

export async function recoverVolume(options: RecoverOptions): Promise<RecoveryResult> {
  const { store, logger } = options;
  logger.info(`Starting recovery from the ${store.description} store.`);
  const scan = await scanBucket({ store, logger });
  const prefixEndSequence = prefixEnd(scan);
  const lastSequence = options.readOnly === true ? replayTarget(options, prefixEndSequence) : prefixEndSequence;
  await replayPrefix({ ...options, scan, lastSequence });
  const processedCount = lastSequence - SEQUENCE_FIRST + 1;
  logger.info({ processedCount, lastSequence }, `Recovery complete (processed ${processedCount} objects).`);
  const unreplayableKeys = keysAfterPrefix(scan, prefixEndSequence);
  const result = { lastSequence, processedCount, archivedCount: 0, unknownKeyCount: scan.unknownKeyCount };
  if (options.readOnly === true) {
    reportUnreplayable({ ...options, unreplayableKeys, prefixEndSequence });
    return { ...result, prefixEndSequence, unreplayableKeys };
  }
  return { ...result, archivedCount: await archiveAfter({ ...options, unreplayableKeys, lastSequence }) };
}

/** Read-only recovery may stop early, but only inside the prefix: past a gap there is no consistent state. */
function replayTarget(options: ReadOnlyRecoverOptions, prefixEndSequence: number): number {
  const { throughSequence } = options;
  if (throughSequence === undefined) return prefixEndSequence;
  if (!Number.isSafeInteger(throughSequence) || throughSequence < SEQUENCE_FIRST - 1 || throughSequence > prefixEndSequence) {
    const prefix = prefixEndSequence < SEQUENCE_FIRST ? 'the log is empty' : `the gap-free log runs from ${SEQUENCE_FIRST} to ${prefixEndSequence}`;
    throw new RecoveryError('ERR_RECOVERY_TARGET_INVALID', `Cannot replay through log object ${throughSequence} in ${options.store.description}: ${prefix}; give a sequence number from ${SEQUENCE_FIRST - 1} to ${prefixEndSequence}`);
  }
  return throughSequence;
}

async function replayPrefix(options: RecoverOptions & { scan: BucketScan; lastSequence: number }): Promise<void> {
  const queue = new PQueue({ concurrency: HEADER_FETCHES_IN_FLIGHT_MAX });
  const loading = new Map<number, Promise<RecoveredObject>>();
  let nextToSchedule = SEQUENCE_FIRST;
  try {
    for (let sequence = SEQUENCE_FIRST; sequence <= options.lastSequence; sequence++) {
      while (nextToSchedule <= options.lastSequence && nextToSchedule < sequence + HEADERS_AHEAD_MAX) {
        const scheduled = nextToSchedule++;
        const loaded = queue.add(() => loadObject(options, scheduled));
        loaded.catch(() => {}); // awaited below in order; an early failure must not go unhandled
        loading.set(scheduled, loaded);
      }
      const object = await loading.get(sequence);
      loading.delete(sequence);
      if (object !== undefined) options.onObject(object);
    }
  } finally {
    queue.clear();
  }
}

async function loadObject(options: RecoverOptions & { scan: BucketScan }, sequence: number): Promise<RecoveredObject> {
  const { store, clock, volumeSizeBytes } = options;
  const objectKey = formatLogKey(sequence);
  const listedSizeBytes = options.scan.logObjectSizes.get(sequence) ?? 0;
  if (listedSizeBytes < HEADER_SIZE_BYTES) throw corrupt(objectKey, sequence, `it is ${listedSizeBytes} bytes, shorter than the ${HEADER_SIZE_BYTES}-byte header`);
  const header = await withRetries({ clock, what: 'read the header of', objectKey, run: () => store.get(objectKey, { range: { offsetBytes: 0, lengthBytes: HEADER_SIZE_BYTES } }) });
  const context = { objectKey, volumeSizeBytes };
  let entries: LogEntry[];
  try {
    entries = decodeLogHeader(header, context);
    checkLogObjectLength(entries, listedSizeBytes, context);
  } catch (error) {
    throw corrupt(objectKey, sequence, error instanceof Error ? error.message : String(error), error);
  }
  let zeroRanges: ZeroRange[] = [];
  if (options.scan.zeroRangeSequences.has(sequence)) {
    const zerosKey = formatZeroRangesKey(sequence);
    const bytes = await withRetries({ clock, what: 'read the zero ranges', objectKey: zerosKey, run: () => store.get(zerosKey) });
    try {
      zeroRanges = decodeZeroRanges(bytes, { objectKey: zerosKey, volumeSizeBytes });
    } catch (error) {
      throw corrupt(zerosKey, sequence, error instanceof Error ? error.message : String(error), error);
    }
  }
  return { sequence, entries, zeroRanges };
}

function corrupt(objectKey: string, sequence: number, reason: string, cause?: unknown): RecoveryError {
  return new RecoveryError(
    'ERR_RECOVERY_CORRUPT_OBJECT',
    `Log object "${objectKey}" is corrupt (${reason}). Recovery stopped and changed nothing. ` +
      `To serve the volume as it was before it, run \`lsvd rollback --to ${sequence - 1}\` (this archives "${objectKey}" and every later object).`,
    { objectKey, cause },
  );
}

/** Every log object after the prefix and every companion whose log object is not in it. */
function keysAfterPrefix(scan: BucketScan, prefixEndSequence: number): string[] {
  return [
    ...[...scan.logObjectSizes.keys()].filter((sequence) => sequence > prefixEndSequence).map(formatLogKey),
    ...[...scan.zeroRangeSequences].filter((sequence) => sequence > prefixEndSequence).map(formatZeroRangesKey),
  ];
}

/** Read-only recovery archives nothing; it only says what a start-up would archive. */
function reportUnreplayable(options: ReadOnlyRecoverOptions & { unreplayableKeys: string[]; prefixEndSequence: number }): void {
  const { unreplayableKeys, prefixEndSequence, logger } = options;
  if (unreplayableKeys.length === 0) return;
  const missingKey = formatLogKey(prefixEndSequence + 1);
  logger.warn(
    { missingKey, unreplayableKeys: unreplayableKeys.length },
    `Log object "${missingKey}" is missing: the ${unreplayableKeys.length} objects after it cannot be replayed (left in place: read-only; a daemon start would archive them).`,
  );
}

/** Archives every log object after the prefix and every companion whose log object is not in it. */
async function archiveAfter(options: ArchivingRecoverOptions & { unreplayableKeys: string[]; lastSequence: number }): Promise<number> {
  const { unreplayableKeys: keys, lastSequence, logger } = options;
  if (keys.length === 0) return 0;
  logger.warn(
    { missingKey: formatLogKey(lastSequence + 1), archivedKeys: keys.length },
    `Log object "${formatLogKey(lastSequence + 1)}" is missing: the ${keys.length} objects after it cannot be replayed and are moved to archive/${options.batchId}/.`,
  );
  const queue = new PQueue({ concurrency: ARCHIVE_MOVES_IN_FLIGHT_MAX });
  await Promise.all(keys.map((key) => queue.add(() => archiveObject({ store: options.store, clock: options.clock, batchId: options.batchId, key }))));
  logger.info({ archivedCount: keys.length, batchId: options.batchId }, `Archived ${keys.length} objects after the recovery point.`);
  return keys.length;
}
