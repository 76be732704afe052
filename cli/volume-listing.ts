/**
 * What `lsvd ls` reports: every key under the volume prefix, classified, with each log
 * object's header fetched (a 12 KiB ranged GET, up to HEADER_FETCHES_IN_FLIGHT_MAX at once) and
 * validated. A log object that fails to decode is reported in its row, not thrown: an operator
 * listing a damaged volume needs to see all of it.
 */

import PQueue from 'p-queue';
import { LogFormatError } from '../logformat/errors.js';
import { classifyKey, formatLogKey, formatZeroRangesKey, VOLUME_DESCRIPTOR_KEY } from '../logformat/keys.js';
import { HEADER_SIZE_BYTES, SEQUENCE_FIRST, VOLUME_SIZE_MAX_BYTES } from '../logformat/limits.js';
import { checkLogObjectLength, decodeLogHeader, logDataLengthBytes } from '../logformat/log-object.js';
import { decodeVolumeDescriptor } from '../logformat/volume-descriptor.js';
import { decodeZeroRanges } from '../logformat/zero-ranges.js';
import type { VolumeDescriptor } from '../logformat/volume-descriptor.js';
import { isStoreError } from '../store/errors.js';
import type { ObjectInfo, ObjectStore } from '../store/object-store.js';

/** As many header GETs in flight as the daemon's recovery uses (DESIGN.md §3). */
export const HEADER_FETCHES_IN_FLIGHT_MAX = 100;

export interface DecodeFailure {
  key: string;
  code: string;
  message: string;
}

export interface LogObjectRow {
  sequence: number;
  key: string;
  sizeBytes: number;
  /** Absent when the header failed to decode (see `failure`). */
  entryCount?: number;
  dataBytes?: number;
  /** Ranges in the `zeros/<sequence>` companion; absent when there is none. */
  zeroRangeCount?: number;
  /** The first problem found: in the object, else in its companion (`failure.key` says which). */
  failure?: DecodeFailure;
}

export interface SequenceGap {
  firstSequence: number;
  lastSequence: number;
}

export interface VolumeListing {
  descriptor?: VolumeDescriptor;
  descriptorFailure?: DecodeFailure;
  /** The volume size log entries were checked against. */
  volumeSizeBytes: number;
  logObjects: LogObjectRow[];
  gaps: SequenceGap[];
  /** The last sequence of the gap-free run from SEQUENCE_FIRST (0: none). */
  replayableThroughSequence: number;
  zeroRangeKeys: string[];
  /** Companions whose log object does not exist: recovery ignores and archives them. */
  zeroRangeKeysWithoutLogObject: string[];
  archivedCount: number;
  leasePresent: boolean;
  checkpointKeys: string[];
  probeCount: number;
  unknownKeys: string[];
}

function failureOf(error: unknown, key: string): DecodeFailure | undefined {
  if (error instanceof LogFormatError) return { key, code: error.code, message: error.message };
  if (isStoreError(error, 'ERR_STORE_NOT_FOUND')) return { key, code: error.code, message: error.message };
  return undefined;
}

async function readDescriptor(store: ObjectStore): Promise<Pick<VolumeListing, 'descriptor' | 'descriptorFailure'>> {
  try {
    const bytes = await store.get(VOLUME_DESCRIPTOR_KEY);
    return { descriptor: decodeVolumeDescriptor(bytes, { objectKey: VOLUME_DESCRIPTOR_KEY }) };
  } catch (error) {
    const failure = failureOf(error, VOLUME_DESCRIPTOR_KEY);
    if (failure === undefined) throw error;
    return { descriptorFailure: failure };
  }
}

interface LogInfo {
  info: ObjectInfo;
  sequence: number;
}

interface DescribeOptions {
  store: ObjectStore;
  info: ObjectInfo;
  sequence: number;
  volumeSizeBytes: number;
  hasZeroRanges: boolean;
}

async function describeLogObject(options: DescribeOptions): Promise<LogObjectRow> {
  const { store, info, sequence, volumeSizeBytes } = options;
  const row: LogObjectRow = { sequence, key: info.key, sizeBytes: info.sizeBytes };
  const context = { objectKey: info.key, volumeSizeBytes };
  try {
    const header = await store.get(info.key, { range: { offsetBytes: 0, lengthBytes: HEADER_SIZE_BYTES } });
    const entries = decodeLogHeader(header, context);
    checkLogObjectLength(entries, info.sizeBytes, context);
    Object.assign(row, { entryCount: entries.length, dataBytes: logDataLengthBytes(entries) });
  } catch (error) {
    const failure = failureOf(error, info.key);
    if (failure === undefined) throw error;
    return { ...row, failure };
  }
  if (!options.hasZeroRanges) return row;
  const zerosKey = formatZeroRangesKey(sequence);
  try {
    const ranges = decodeZeroRanges(await store.get(zerosKey), { objectKey: zerosKey, volumeSizeBytes });
    return { ...row, zeroRangeCount: ranges.length };
  } catch (error) {
    const failure = failureOf(error, zerosKey);
    if (failure === undefined) throw error;
    return { ...row, failure };
  }
}

function findGaps(sequences: readonly number[]): SequenceGap[] {
  const gaps: SequenceGap[] = [];
  let expected = SEQUENCE_FIRST;
  for (const sequence of sequences) {
    if (sequence > expected) gaps.push({ firstSequence: expected, lastSequence: sequence - 1 });
    expected = sequence + 1;
  }
  return gaps;
}

type KeySummary = Pick<VolumeListing, 'zeroRangeKeys' | 'archivedCount' | 'leasePresent' | 'checkpointKeys' | 'probeCount' | 'unknownKeys'>;

/** One pass over the listing: log objects (sorted by sequence), and every other key by kind. */
async function classifyKeys(store: ObjectStore): Promise<{ logInfos: LogInfo[]; descriptorPresent: boolean; keys: KeySummary }> {
  const logInfos: LogInfo[] = [];
  const keys: KeySummary = { zeroRangeKeys: [], archivedCount: 0, leasePresent: false, checkpointKeys: [], probeCount: 0, unknownKeys: [] };
  let descriptorPresent = false;
  for await (const info of store.list()) {
    const kind = classifyKey(info.key);
    if (kind.kind === 'log') logInfos.push({ info, sequence: kind.sequence });
    else if (kind.kind === 'zero-ranges') keys.zeroRangeKeys.push(info.key);
    else if (kind.kind === 'descriptor') descriptorPresent = true;
    else if (kind.kind === 'lease') keys.leasePresent = true;
    else if (kind.kind === 'archive') keys.archivedCount++;
    else if (kind.kind === 'checkpoint') keys.checkpointKeys.push(info.key);
    else if (kind.kind === 'probe') keys.probeCount++;
    else keys.unknownKeys.push(info.key);
  }
  // Lexical key order is numeric order for log keys; sort anyway so no store's order matters.
  logInfos.sort((left, right) => left.sequence - right.sequence);
  return { logInfos, descriptorPresent, keys };
}

/** Every log object's row, fetched HEADER_FETCHES_IN_FLIGHT_MAX at a time, in sequence order. */
async function describeLogObjects(options: { store: ObjectStore; logInfos: readonly LogInfo[]; volumeSizeBytes: number; zeroRangeKeys: readonly string[] }): Promise<LogObjectRow[]> {
  const { store, volumeSizeBytes } = options;
  const zeroRangeKeys = new Set(options.zeroRangeKeys);
  const queue = new PQueue({ concurrency: HEADER_FETCHES_IN_FLIGHT_MAX });
  const describe = ({ info, sequence }: LogInfo) =>
    describeLogObject({ store, info, sequence, volumeSizeBytes, hasZeroRanges: zeroRangeKeys.has(formatZeroRangesKey(sequence)) });
  try {
    return await Promise.all(options.logInfos.map((logInfo) => queue.add(() => describe(logInfo))));
  } catch (error) {
    // The store failed (not a corrupt object): stop queued fetches before the store is closed.
    queue.clear();
    await queue.onIdle();
    throw error;
  }
}

export async function listVolume(store: ObjectStore): Promise<VolumeListing> {
  const { logInfos, descriptorPresent, keys } = await classifyKeys(store);
  const descriptorResult = descriptorPresent ? await readDescriptor(store) : {};
  // Without a descriptor (e.g. a bucket written by Fly's lsvd) entries are checked against the largest volume.
  const volumeSizeBytes = descriptorResult.descriptor?.sizeBytes ?? VOLUME_SIZE_MAX_BYTES;
  const logObjects = await describeLogObjects({ store, logInfos, volumeSizeBytes, zeroRangeKeys: keys.zeroRangeKeys });
  const sequences = logInfos.map(({ sequence }) => sequence);
  const gaps = findGaps(sequences);
  const logSequences = new Set(sequences);
  const firstGap = gaps[0];
  return {
    ...descriptorResult,
    volumeSizeBytes,
    logObjects,
    gaps,
    replayableThroughSequence: firstGap === undefined ? (sequences.at(-1) ?? 0) : firstGap.firstSequence - 1,
    zeroRangeKeys: keys.zeroRangeKeys,
    zeroRangeKeysWithoutLogObject: keys.zeroRangeKeys.filter((key) => {
      const kind = classifyKey(key);
      return kind.kind === 'zero-ranges' && !logSequences.has(kind.sequence);
    }),
    archivedCount: keys.archivedCount,
    leasePresent: keys.leasePresent,
    checkpointKeys: keys.checkpointKeys,
    probeCount: keys.probeCount,
    unknownKeys: keys.unknownKeys,
  };
}

export function gapLine(gap: SequenceGap): string {
  const range =
    gap.firstSequence === gap.lastSequence ? formatLogKey(gap.firstSequence) : `${formatLogKey(gap.firstSequence)}..${formatLogKey(gap.lastSequence)}`;
  return `-- gap: ${range} missing --`;
}

