/**
 * `lsvd verify`: checks everything a start-up would read, and more, without changing the
 * bucket. Every log object's header is fetched (a 12 KiB ranged GET, many in parallel) and
 * decoded, including objects after a gap that recovery would skip, and checked against the
 * object's listed size (a truncated or padded object is corrupt, docs/FORMAT.md); every
 * zero-range companion, the volume descriptor and the lease are decoded. Gaps and companions
 * without their log object are problems too. Object data is never downloaded: its length is
 * the listed size, which is what recovery trusts as well.
 */
import PQueue from 'p-queue';
import { LogFormatError, type LogFormatErrorCode } from '../logformat/errors.js';
import { classifyKey, formatLogKey, formatZeroRangesKey, LEASE_KEY, VOLUME_DESCRIPTOR_KEY } from '../logformat/keys.js';
import { decodeLease, LEASE_SIZE_MAX_BYTES, type Lease } from '../logformat/lease.js';
import { HEADER_SIZE_BYTES, SECTOR_SIZE_BYTES, SEQUENCE_FIRST, VOLUME_DESCRIPTOR_SIZE_MAX_BYTES, VOLUME_SIZE_MAX_BYTES, ZERO_RANGES_OBJECT_SIZE_MAX_BYTES } from '../logformat/limits.js';
import { checkLogObjectLength, decodeLogHeader, logDataLengthBytes } from '../logformat/log-object.js';
import { decodeVolumeDescriptor, type VolumeDescriptor } from '../logformat/volume-descriptor.js';
import { decodeZeroRanges } from '../logformat/zero-ranges.js';
import type { GetOptions, ObjectStore } from '../store/object-store.js';
import { RecoveryError } from './errors.js';
import { HEADER_FETCHES_IN_FLIGHT_MAX } from './recover.js';
import { type Sleeper, withRetries } from './retry.js';
import { isNotFound } from './store-errors.js';

export type VerifyProblemCode =
  | LogFormatErrorCode
  /** Log objects are missing: recovery replays only up to the first gap. */
  | 'ERR_VERIFY_GAP'
  /** A `zeros/<n>` companion whose log object does not exist. */
  | 'ERR_VERIFY_ORPHAN_COMPANION'
  | 'ERR_VOLUME_DESCRIPTOR_MISSING'
  | 'ERR_VOLUME_SECTOR_SIZE_UNSUPPORTED'
  /** An object was listed but was gone when it was read. */
  | 'ERR_STORE_NOT_FOUND';

export interface VerifyProblem {
  code: VerifyProblemCode;
  /** The key the problem is about; for a gap, the first missing log object. */
  key: string;
  message: string;
}

export interface SequenceRange {
  firstSequence: number;
  lastSequence: number;
}

export interface VerifyReport {
  descriptor?: VolumeDescriptor;
  /** The size entries were checked against: the descriptor's, else the largest volume. */
  volumeSizeBytes: number;
  logObjectCount: number;
  /** The highest log object sequence (SEQUENCE_FIRST - 1: none). */
  highestSequence: number;
  /** The last sequence of the gap-free run from SEQUENCE_FIRST: what recovery replays. */
  prefixEndSequence: number;
  gaps: SequenceRange[];
  /** Log objects after the first gap: a start-up archives them. */
  unreplayableCount: number;
  zeroRangeKeyCount: number;
  orphanCompanionKeys: string[];
  /** Listed bytes of every log object and companion. */
  storedBytes: number;
  /** Data bytes (entry sizes) of every log object whose header decoded. */
  logDataBytes: number;
  archivedCount: number;
  lease?: Lease;
  checkpointCount: number;
  probeCount: number;
  unknownKeys: string[];
  /** Everything wrong, in key order (descriptor and lease first); empty for a sound volume. */
  problems: VerifyProblem[];
}

export interface VerifyOptions {
  store: ObjectStore;
  /** Backs off between retries of failed store requests. */
  clock: Sleeper;
}

interface Listing {
  logSizes: Map<number, number>;
  companionSizes: Map<number, number>;
  descriptorSizeBytes?: number;
  leaseSizeBytes?: number;
  archivedCount: number;
  checkpointCount: number;
  probeCount: number;
  unknownKeys: string[];
}

/** A problem and where it sorts: by sequence, the descriptor and lease first (-1). */
interface RankedProblem extends VerifyProblem {
  rankSequence: number;
}

export async function verifyVolume(options: VerifyOptions): Promise<VerifyReport> {
  const listing = await listKeys(options.store);
  const problems: RankedProblem[] = [];
  const descriptor = await checkDescriptor(options, listing, problems);
  const volumeSizeBytes = descriptor?.sizeBytes ?? VOLUME_SIZE_MAX_BYTES;
  const lease = listing.leaseSizeBytes === undefined ? undefined : await checkLease({ ...options, sizeBytes: listing.leaseSizeBytes, problems });
  const logDataBytes = await checkLogObjects({ ...options, listing, volumeSizeBytes, problems });
  const sequences = [...listing.logSizes.keys()].sort((left, right) => left - right);
  const gaps = findGaps(sequences);
  for (const gap of gaps) problems.push(gapProblem(gap, gaps));
  const orphanSequences = [...listing.companionSizes.keys()].filter((sequence) => !listing.logSizes.has(sequence)).sort((left, right) => left - right);
  for (const sequence of orphanSequences) problems.push(orphanProblem(sequence));
  const firstGap = gaps[0];
  const prefixEndSequence = firstGap === undefined ? (sequences.at(-1) ?? SEQUENCE_FIRST - 1) : firstGap.firstSequence - 1;
  problems.sort((left, right) => left.rankSequence - right.rankSequence);
  return {
    ...(descriptor === undefined ? {} : { descriptor }),
    volumeSizeBytes,
    logObjectCount: sequences.length,
    highestSequence: sequences.at(-1) ?? SEQUENCE_FIRST - 1,
    prefixEndSequence,
    gaps,
    unreplayableCount: sequences.filter((sequence) => sequence > prefixEndSequence).length,
    zeroRangeKeyCount: listing.companionSizes.size,
    orphanCompanionKeys: orphanSequences.map(formatZeroRangesKey),
    storedBytes: sum(listing.logSizes.values()) + sum(listing.companionSizes.values()),
    logDataBytes,
    archivedCount: listing.archivedCount,
    ...(lease === undefined ? {} : { lease }),
    checkpointCount: listing.checkpointCount,
    probeCount: listing.probeCount,
    unknownKeys: listing.unknownKeys,
    problems: problems.map(({ code, key, message }) => ({ code, key, message })),
  };
}

/** Problems named in the error's one line; the report lists them all. */
const PROBLEMS_NAMED_MAX = 10;

/** The error that ends `lsvd verify` with exit 1, naming the problems; undefined for a sound volume. */
export function verifyFailure(report: VerifyReport, storeDescription: string): RecoveryError | undefined {
  const { problems } = report;
  if (problems.length === 0) return undefined;
  const named = problems.slice(0, PROBLEMS_NAMED_MAX).map((problem) => `${problem.key} (${problem.code})`);
  if (problems.length > PROBLEMS_NAMED_MAX) named.push(`and ${problems.length - PROBLEMS_NAMED_MAX} more`);
  return new RecoveryError('ERR_VERIFY_FAILED', `The volume in ${storeDescription} has ${problems.length} problem(s): ${named.join(', ')}`, { objectKey: problems[0]?.key ?? '' });
}

async function listKeys(store: ObjectStore): Promise<Listing> {
  const listing: Listing = { logSizes: new Map(), companionSizes: new Map(), archivedCount: 0, checkpointCount: 0, probeCount: 0, unknownKeys: [] };
  for await (const info of store.list()) {
    const kind = classifyKey(info.key);
    if (kind.kind === 'log') listing.logSizes.set(kind.sequence, info.sizeBytes);
    else if (kind.kind === 'zero-ranges') listing.companionSizes.set(kind.sequence, info.sizeBytes);
    else if (kind.kind === 'descriptor') listing.descriptorSizeBytes = info.sizeBytes;
    else if (kind.kind === 'lease') listing.leaseSizeBytes = info.sizeBytes;
    else if (kind.kind === 'archive') listing.archivedCount++;
    else if (kind.kind === 'checkpoint') listing.checkpointCount++;
    else if (kind.kind === 'probe') listing.probeCount++;
    else listing.unknownKeys.push(info.key);
  }
  return listing;
}

/** GETs with recovery's retries; a key gone since the listing is `undefined`, not a failure. */
async function getIfPresent(options: { store: ObjectStore; clock: Sleeper; key: string; get?: GetOptions }): Promise<Uint8Array | undefined> {
  const { store, key } = options;
  return withRetries({
    clock: options.clock,
    what: 'read',
    objectKey: key,
    run: () =>
      store.get(key, options.get).catch((error: unknown) => {
        if (isNotFound(error)) return undefined;
        throw error;
      }),
  });
}

function vanished(key: string, rankSequence: number): RankedProblem {
  return { code: 'ERR_STORE_NOT_FOUND', key, message: `"${key}" was listed but is gone`, rankSequence };
}

/** An object too large to be what it claims is corrupt without downloading it. */
function tooLarge(options: { code: LogFormatErrorCode; key: string; sizeBytes: number; sizeMaxBytes: number; rankSequence: number }): RankedProblem {
  const { code, key, sizeBytes, sizeMaxBytes, rankSequence } = options;
  return { code, key, message: `"${key}" is ${sizeBytes} bytes, more than the ${sizeMaxBytes} bytes it can be`, rankSequence };
}

/** A LogFormatError becomes a problem; anything else (the store failing) ends verify. */
function formatProblem(error: unknown, where: { key: string; rankSequence: number }): RankedProblem {
  const { key, rankSequence } = where;
  if (!(error instanceof LogFormatError)) throw error;
  return { code: error.code, key, message: error.message, rankSequence };
}

async function checkDescriptor(options: VerifyOptions, listing: Listing, problems: RankedProblem[]): Promise<VolumeDescriptor | undefined> {
  const key = VOLUME_DESCRIPTOR_KEY;
  if (listing.descriptorSizeBytes === undefined) {
    problems.push({ code: 'ERR_VOLUME_DESCRIPTOR_MISSING', key, message: `There is no ${key}: this is not an lsvd volume (entries were checked against the largest volume size)`, rankSequence: -1 });
    return undefined;
  }
  if (listing.descriptorSizeBytes > VOLUME_DESCRIPTOR_SIZE_MAX_BYTES) {
    problems.push(tooLarge({ code: 'ERR_DESCRIPTOR_INVALID', key, sizeBytes: listing.descriptorSizeBytes, sizeMaxBytes: VOLUME_DESCRIPTOR_SIZE_MAX_BYTES, rankSequence: -1 }));
    return undefined;
  }
  const bytes = await getIfPresent({ ...options, key });
  if (bytes === undefined) {
    problems.push(vanished(key, -1));
    return undefined;
  }
  try {
    const descriptor = decodeVolumeDescriptor(bytes, { objectKey: key });
    if (descriptor.sectorSizeBytes !== SECTOR_SIZE_BYTES) {
      problems.push({ code: 'ERR_VOLUME_SECTOR_SIZE_UNSUPPORTED', key, message: `${key} says ${descriptor.sectorSizeBytes}-byte sectors; lsvd serves only ${SECTOR_SIZE_BYTES}-byte sectors`, rankSequence: -1 });
      return undefined;
    }
    return descriptor;
  } catch (error) {
    problems.push(formatProblem(error, { key, rankSequence: -1 }));
    return undefined;
  }
}

async function checkLease(options: VerifyOptions & { sizeBytes: number; problems: RankedProblem[] }): Promise<Lease | undefined> {
  const { problems } = options;
  if (options.sizeBytes > LEASE_SIZE_MAX_BYTES) {
    problems.push(tooLarge({ code: 'ERR_LEASE_INVALID', key: LEASE_KEY, sizeBytes: options.sizeBytes, sizeMaxBytes: LEASE_SIZE_MAX_BYTES, rankSequence: -1 }));
    return undefined;
  }
  const bytes = await getIfPresent({ ...options, key: LEASE_KEY });
  // A lease released between the listing and now is not a problem: the daemon stopped.
  if (bytes === undefined) return undefined;
  try {
    return decodeLease(bytes, { objectKey: LEASE_KEY });
  } catch (error) {
    problems.push(formatProblem(error, { key: LEASE_KEY, rankSequence: -1 }));
    return undefined;
  }
}

interface CheckObjectsOptions extends VerifyOptions {
  listing: Listing;
  volumeSizeBytes: number;
  problems: RankedProblem[];
}

/** Checks every log object and its companion, HEADER_FETCHES_IN_FLIGHT_MAX at a time; returns their data bytes. */
async function checkLogObjects(options: CheckObjectsOptions): Promise<number> {
  const queue = new PQueue({ concurrency: HEADER_FETCHES_IN_FLIGHT_MAX });
  let dataBytes = 0;
  let storeFailure: unknown;
  for (const [sequence, sizeBytes] of options.listing.logSizes) {
    // Bounded: at most twice the concurrency is queued, however many objects there are.
    await queue.onSizeLessThan(HEADER_FETCHES_IN_FLIGHT_MAX);
    if (storeFailure !== undefined) break;
    queue
      .add(() => checkLogObject({ ...options, sequence, sizeBytes }))
      .then(
        (objectDataBytes) => (dataBytes += objectDataBytes),
        (error: unknown) => (storeFailure ??= error),
      );
  }
  await queue.onIdle();
  if (storeFailure !== undefined) throw storeFailure;
  return dataBytes;
}

/** One object: its header against its listed size, then its companion. Returns its data bytes (0 if corrupt). */
async function checkLogObject(options: CheckObjectsOptions & { sequence: number; sizeBytes: number }): Promise<number> {
  const { sequence, sizeBytes, volumeSizeBytes, problems } = options;
  const key = formatLogKey(sequence);
  const context = { objectKey: key, volumeSizeBytes };
  let dataBytes = 0;
  try {
    // Shorter than a header: no need to fetch it (and some stores refuse a range past the end).
    const header = sizeBytes < HEADER_SIZE_BYTES ? new Uint8Array(0) : await getIfPresent({ ...options, key, get: { range: { offsetBytes: 0, lengthBytes: HEADER_SIZE_BYTES } } });
    if (header === undefined) {
      problems.push(vanished(key, sequence));
    } else {
      const entries = sizeBytes < HEADER_SIZE_BYTES ? [] : decodeLogHeader(header, context);
      checkLogObjectLength(entries, sizeBytes, context);
      dataBytes = logDataLengthBytes(entries);
    }
  } catch (error) {
    problems.push(formatProblem(error, { key, rankSequence: sequence }));
  }
  if (options.listing.companionSizes.has(sequence)) await checkCompanion({ ...options, sequence });
  return dataBytes;
}

async function checkCompanion(options: CheckObjectsOptions & { sequence: number }): Promise<void> {
  const { sequence, problems } = options;
  const key = formatZeroRangesKey(sequence);
  // Sorts right after its log object.
  const rankSequence = sequence + 0.5;
  const sizeBytes = options.listing.companionSizes.get(sequence) ?? 0;
  if (sizeBytes > ZERO_RANGES_OBJECT_SIZE_MAX_BYTES) {
    problems.push(tooLarge({ code: 'ERR_ZERO_RANGES_INVALID', key, sizeBytes, sizeMaxBytes: ZERO_RANGES_OBJECT_SIZE_MAX_BYTES, rankSequence }));
    return;
  }
  const bytes = await getIfPresent({ ...options, key });
  if (bytes === undefined) {
    problems.push(vanished(key, rankSequence));
    return;
  }
  try {
    decodeZeroRanges(bytes, { objectKey: key, volumeSizeBytes: options.volumeSizeBytes });
  } catch (error) {
    problems.push(formatProblem(error, { key, rankSequence }));
  }
}

function findGaps(sortedSequences: readonly number[]): SequenceRange[] {
  const gaps: SequenceRange[] = [];
  let expected = SEQUENCE_FIRST;
  for (const sequence of sortedSequences) {
    if (sequence > expected) gaps.push({ firstSequence: expected, lastSequence: sequence - 1 });
    expected = sequence + 1;
  }
  return gaps;
}

function gapProblem(gap: SequenceRange, gaps: readonly SequenceRange[]): RankedProblem {
  const { firstSequence, lastSequence } = gap;
  const range = firstSequence === lastSequence ? `Log object ${formatLogKey(firstSequence)} is` : `Log objects ${formatLogKey(firstSequence)}..${formatLogKey(lastSequence)} are`;
  const consequence =
    gap === gaps[0]
      ? `recovery replays only ${firstSequence === SEQUENCE_FIRST ? 'nothing' : `${SEQUENCE_FIRST}..${firstSequence - 1}`} and archives every object after the gap`
      : 'the objects after it are already past the first gap';
  // Sorts where the first missing object would be, after its predecessor's companion.
  return { code: 'ERR_VERIFY_GAP', key: formatLogKey(firstSequence), message: `${range} missing: ${consequence}`, rankSequence: firstSequence - 0.25 };
}

function orphanProblem(sequence: number): RankedProblem {
  const key = formatZeroRangesKey(sequence);
  return {
    code: 'ERR_VERIFY_ORPHAN_COMPANION',
    key,
    message: `${key} has no log object ${formatLogKey(sequence)}: recovery ignores it and archives it (left by a crash between the two writes, or by deleting log objects by hand)`,
    rankSequence: sequence + 0.5,
  };
}

function sum(values: Iterable<number>): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}
