/**
 * `zeros/<sequence>`: the companion object that records TRIM and WRITE_ZEROES (docs/FORMAT.md).
 * The Fly layout cannot say "these ranges now read as zeros", and object metadata would be lost
 * by `aws s3 sync` or `rclone` into a file store, so the ranges live in their own object.
 * Its ranges apply when log object <sequence> is replayed, before that object's entries.
 *
 * Layout: 8-byte ASCII magic `LSVDZERO`, u32 BE version, u32 BE count, then count x
 * {u64 BE address bytes, u64 BE size bytes}. Decoding untrusted bytes throws only LogFormatError.
 */

import assert from 'node:assert/strict';
import { LogFormatError } from './errors.js';
import type { DecodeContext } from './log-object.js';
import {
  SECTOR_SIZE_BYTES,
  U64_MAX,
  VOLUME_SIZE_MAX_BYTES,
  ZERO_RANGE_SIZE_BYTES,
  ZERO_RANGES_FORMAT_VERSION,
  ZERO_RANGES_MAGIC,
  ZERO_RANGES_MAX,
  ZERO_RANGES_PREAMBLE_SIZE_BYTES,
} from './limits.js';

export interface ZeroRange {
  addressBytes: number;
  sizeBytes: number;
}

const MAGIC_BYTES = new TextEncoder().encode(ZERO_RANGES_MAGIC);
const VERSION_OFFSET_BYTES = 8;
const COUNT_OFFSET_BYTES = 12;
assert(MAGIC_BYTES.byteLength === VERSION_OFFSET_BYTES);

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function assertRange(range: ZeroRange): void {
  assert(Number.isSafeInteger(range.addressBytes) && range.addressBytes >= 0, 'range address must be a non-negative safe integer');
  assert(Number.isSafeInteger(range.sizeBytes) && range.sizeBytes > 0, 'range size must be a positive safe integer');
  assert(range.addressBytes % SECTOR_SIZE_BYTES === 0 && range.sizeBytes % SECTOR_SIZE_BYTES === 0, 'range must be sector aligned');
  assert(range.addressBytes + range.sizeBytes <= VOLUME_SIZE_MAX_BYTES, 'range must end within VOLUME_SIZE_MAX_BYTES');
}

export function encodeZeroRanges(ranges: readonly ZeroRange[]): Uint8Array {
  assert(ranges.length <= ZERO_RANGES_MAX, `a companion object holds at most ${ZERO_RANGES_MAX} ranges`);
  const bytes = new Uint8Array(ZERO_RANGES_PREAMBLE_SIZE_BYTES + ranges.length * ZERO_RANGE_SIZE_BYTES);
  const view = viewOf(bytes);
  bytes.set(MAGIC_BYTES, 0);
  view.setUint32(VERSION_OFFSET_BYTES, ZERO_RANGES_FORMAT_VERSION, false);
  view.setUint32(COUNT_OFFSET_BYTES, ranges.length, false);
  ranges.forEach((range, index) => {
    assertRange(range);
    const rangeOffsetBytes = ZERO_RANGES_PREAMBLE_SIZE_BYTES + index * ZERO_RANGE_SIZE_BYTES;
    view.setBigUint64(rangeOffsetBytes, BigInt(range.addressBytes), false);
    view.setBigUint64(rangeOffsetBytes + 8, BigInt(range.sizeBytes), false);
  });
  return bytes;
}

export function decodeZeroRanges(bytes: Uint8Array, context: DecodeContext): ZeroRange[] {
  const { objectKey, volumeSizeBytes } = context;
  assert(Number.isSafeInteger(volumeSizeBytes) && volumeSizeBytes >= 0, 'volumeSizeBytes must be a non-negative safe integer');
  const fail = (detail: string): never => {
    throw new LogFormatError('ERR_ZERO_RANGES_INVALID', `Cannot decode zero ranges "${objectKey}": ${detail}`, { objectKey });
  };
  if (bytes.byteLength < ZERO_RANGES_PREAMBLE_SIZE_BYTES) {
    fail(`object is ${bytes.byteLength} bytes, shorter than its ${ZERO_RANGES_PREAMBLE_SIZE_BYTES}-byte preamble`);
  }
  if (!MAGIC_BYTES.every((byte, index) => bytes[index] === byte)) fail(`magic is not "${ZERO_RANGES_MAGIC}"`);
  const view = viewOf(bytes);
  const version = view.getUint32(VERSION_OFFSET_BYTES, false);
  if (version !== ZERO_RANGES_FORMAT_VERSION) fail(`version is ${version}, this lsvd reads version ${ZERO_RANGES_FORMAT_VERSION}`);
  const count = view.getUint32(COUNT_OFFSET_BYTES, false);
  if (count > ZERO_RANGES_MAX) fail(`count ${count} exceeds the limit of ${ZERO_RANGES_MAX}`);
  const expectedSizeBytes = ZERO_RANGES_PREAMBLE_SIZE_BYTES + count * ZERO_RANGE_SIZE_BYTES;
  if (bytes.byteLength !== expectedSizeBytes) fail(`object is ${bytes.byteLength} bytes, ${count} ranges need ${expectedSizeBytes}`);
  const ranges: ZeroRange[] = [];
  for (let index = 0; index < count; index++) {
    const rangeOffsetBytes = ZERO_RANGES_PREAMBLE_SIZE_BYTES + index * ZERO_RANGE_SIZE_BYTES;
    const address = view.getBigUint64(rangeOffsetBytes, false);
    const size = view.getBigUint64(rangeOffsetBytes + 8, false);
    const sector = BigInt(SECTOR_SIZE_BYTES);
    if (size === 0n) fail(`range ${index} has size 0`);
    if (address % sector !== 0n || size % sector !== 0n) fail(`range ${index} (address ${address}, size ${size}) is not aligned to ${SECTOR_SIZE_BYTES} bytes`);
    // BigInt: two u64 fields can sum past 2^64.
    const endBytes = address + size;
    if (endBytes > U64_MAX) fail(`range ${index} (address ${address}, size ${size}) overflows 64 bits`);
    if (endBytes > BigInt(volumeSizeBytes)) fail(`range ${index} ends at byte ${endBytes}, past the volume end at ${volumeSizeBytes}`);
    ranges.push({ addressBytes: Number(address), sizeBytes: Number(size) });
  }
  return ranges;
}
