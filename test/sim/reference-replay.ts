/**
 * The simulator's own replay of the bucket, written from DESIGN.md §1 and docs/FORMAT.md
 * and independent of the engine's (daemon/replay.ts, the extent map): the state of the
 * volume after log objects 1..n, one value per 512-byte unit, where each value is read
 * from the object's data itself. An object's zero ranges (`zeros/<seq>`) apply before its
 * entries; entry i's data follows the header after the data of entries 0..i-1.
 */
import { formatLogKey, formatZeroRangesKey } from '../../logformat/keys.js';
import { HEADER_SIZE_BYTES } from '../../logformat/limits.js';
import { checkLogObjectLength, decodeLogHeader } from '../../logformat/log-object.js';
import { decodeZeroRanges } from '../../logformat/zero-ranges.js';
import type { SimBucket } from './sim-bucket.js';
import { decodeUnits, UNIT_SIZE_BYTES, ZERO_VALUE } from './unit-pattern.js';

interface DecodedObject {
  /** Zero ranges as [firstUnit, endUnit). */
  zeroRanges: [number, number][];
  /** Each entry's data as unit values, from its first unit. */
  runs: { firstUnit: number; values: Uint32Array }[];
}

/** Stored bytes never change (the bucket checks it), so each object is decoded once. */
const decodedObjects = new WeakMap<Uint8Array, DecodedObject>();
const decodedZeroRanges = new WeakMap<Uint8Array, [number, number][]>();

function decodeObject(bytes: Uint8Array, context: { objectKey: string; volumeSizeBytes: number }): DecodedObject {
  const cached = decodedObjects.get(bytes);
  if (cached !== undefined) return cached;
  const entries = decodeLogHeader(bytes.subarray(0, HEADER_SIZE_BYTES), context);
  checkLogObjectLength(entries, bytes.length, context);
  const runs: DecodedObject['runs'] = [];
  let dataOffsetBytes = HEADER_SIZE_BYTES;
  for (const entry of entries) {
    const firstUnit = entry.addressBytes / UNIT_SIZE_BYTES;
    runs.push({ firstUnit, values: decodeUnits(bytes.subarray(dataOffsetBytes, dataOffsetBytes + entry.sizeBytes), firstUnit) });
    dataOffsetBytes += entry.sizeBytes;
  }
  const decoded = { zeroRanges: [], runs };
  decodedObjects.set(bytes, decoded);
  return decoded;
}

function decodeZeros(bytes: Uint8Array, context: { objectKey: string; volumeSizeBytes: number }): [number, number][] {
  const cached = decodedZeroRanges.get(bytes);
  if (cached !== undefined) return cached;
  const ranges = decodeZeroRanges(bytes, context).map((range): [number, number] => [range.addressBytes / UNIT_SIZE_BYTES, (range.addressBytes + range.sizeBytes) / UNIT_SIZE_BYTES]);
  decodedZeroRanges.set(bytes, ranges);
  return ranges;
}

/** Applies log object `sequence` (as the bucket holds it now) to `state`; notes the units it touched. */
export function replayObject(options: { bucket: SimBucket; sequence: number; state: Uint32Array; touched?: Set<number> }): void {
  const { bucket, sequence, state, touched } = options;
  const volumeSizeBytes = state.length * UNIT_SIZE_BYTES;
  const key = formatLogKey(sequence);
  const object = bucket.peek(key);
  if (object === undefined) throw new Error(`log object "${key}" is not in the bucket`);
  const zerosKey = formatZeroRangesKey(sequence);
  const zeros = bucket.peek(zerosKey);
  if (zeros !== undefined) {
    for (const [firstUnit, endUnit] of decodeZeros(zeros.bytes, { objectKey: zerosKey, volumeSizeBytes })) {
      state.fill(ZERO_VALUE, firstUnit, endUnit);
      if (touched !== undefined) for (let unit = firstUnit; unit < endUnit; unit++) touched.add(unit);
    }
  }
  for (const run of decodeObject(object.bytes, { objectKey: key, volumeSizeBytes }).runs) {
    state.set(run.values, run.firstUnit);
    if (touched !== undefined) for (let unit = run.firstUnit; unit < run.firstUnit + run.values.length; unit++) touched.add(unit);
  }
}

/** The gap-free run of log objects from 1 in the bucket: its last sequence (0 when empty). */
export function bucketPrefixEnd(bucket: SimBucket): number {
  let sequence = 0;
  while (bucket.peek(formatLogKey(sequence + 1)) !== undefined) sequence++;
  return sequence;
}

/** The volume after objects 1..lastSequence, replayed from scratch. */
export function replayPrefix(options: { bucket: SimBucket; lastSequence: number; unitCount: number }): Uint32Array {
  const state = new Uint32Array(options.unitCount);
  for (let sequence = 1; sequence <= options.lastSequence; sequence++) replayObject({ bucket: options.bucket, sequence, state });
  return state;
}

/**
 * Follows the bucket's gap-free prefix as objects land, so every new consistent point can be
 * checked against the model the moment it exists.
 */
export class PrefixTracker {
  readonly #bucket: SimBucket;
  #state: Uint32Array;
  #lastSequence = 0;

  constructor(options: { bucket: SimBucket; unitCount: number }) {
    this.#bucket = options.bucket;
    this.#state = new Uint32Array(options.unitCount);
  }

  get lastSequence(): number {
    return this.#lastSequence;
  }

  get state(): Uint32Array {
    return this.#state;
  }

  reset(options: { state: Uint32Array; lastSequence: number }): void {
    this.#state = options.state.slice();
    this.#lastSequence = options.lastSequence;
  }

  /** Replays every object that now continues the prefix; returns how many; adds the units they touch to `touched`. */
  advance(touched: Set<number>): number {
    let count = 0;
    while (this.#bucket.peek(formatLogKey(this.#lastSequence + 1)) !== undefined) {
      replayObject({ bucket: this.#bucket, sequence: this.#lastSequence + 1, state: this.#state, touched });
      this.#lastSequence++;
      count++;
    }
    return count;
  }
}
