/**
 * Log objects (DESIGN.md §1, docs/FORMAT.md): a 12,288-byte header of 1,024 entries
 * {u64 BE address bytes, u32 BE size bytes}, then each entry's data back to back in entry
 * order. This layout is Fly.io lsvd's; nothing may be added to it.
 *
 * Pure functions of bytes. Decoding untrusted bytes throws only LogFormatError.
 */

import assert from 'node:assert/strict';
import { LogFormatError } from './errors.js';
import type { LogFormatErrorCode } from './errors.js';
import {
  ENTRY_SIZE_MAX_BYTES,
  HEADER_ENTRIES_MAX,
  HEADER_ENTRY_SIZE_BYTES,
  HEADER_SIZE_BYTES,
  SECTOR_SIZE_BYTES,
  U64_MAX,
  VOLUME_SIZE_MAX_BYTES,
} from './limits.js';

export interface LogEntry {
  addressBytes: number;
  sizeBytes: number;
}

export interface DecodeContext {
  /** Named in every error message. */
  objectKey: string;
  /** Entries must end at or before this many bytes. */
  volumeSizeBytes: number;
}

export interface LogEntryWithData {
  addressBytes: number;
  data: Uint8Array;
}

export interface DecodedLogObject {
  entries: LogEntry[];
  /** Where each entry's data starts within the decoded bytes, by entry index. */
  dataOffsetsBytes: number[];
}

const SIZE_FIELD_OFFSET_BYTES = 8;

function assertEntry(entry: LogEntry): void {
  assert(Number.isSafeInteger(entry.addressBytes) && entry.addressBytes >= 0, 'entry address must be a non-negative safe integer');
  assert(entry.addressBytes % SECTOR_SIZE_BYTES === 0, 'entry address must be sector aligned');
  assert(Number.isSafeInteger(entry.sizeBytes) && entry.sizeBytes > 0, 'entry size must be a positive integer');
  assert(entry.sizeBytes % SECTOR_SIZE_BYTES === 0, 'entry size must be sector aligned');
  assert(entry.sizeBytes <= ENTRY_SIZE_MAX_BYTES, 'entry size must fit the u32 size field');
  assert(Number.isSafeInteger(entry.addressBytes + entry.sizeBytes), 'entry end must be a safe integer');
}

function assertContext(context: DecodeContext): void {
  assert(typeof context.objectKey === 'string', 'objectKey must be a string');
  assert(Number.isSafeInteger(context.volumeSizeBytes) && context.volumeSizeBytes >= 0, 'volumeSizeBytes must be a non-negative safe integer');
  assert(context.volumeSizeBytes <= VOLUME_SIZE_MAX_BYTES, 'volumeSizeBytes must not exceed VOLUME_SIZE_MAX_BYTES');
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function fail(code: LogFormatErrorCode, objectKey: string, detail: string): never {
  throw new LogFormatError(code, `Cannot decode log object "${objectKey}": ${detail}`, { objectKey });
}

/** The 12,288-byte header for these entries; unused entries are all-zero. */
export function encodeLogHeader(entries: readonly LogEntry[]): Uint8Array {
  assert(entries.length <= HEADER_ENTRIES_MAX, `a log object holds at most ${HEADER_ENTRIES_MAX} entries`);
  const header = new Uint8Array(HEADER_SIZE_BYTES);
  const view = viewOf(header);
  entries.forEach((entry, index) => {
    assertEntry(entry);
    const entryOffsetBytes = index * HEADER_ENTRY_SIZE_BYTES;
    view.setBigUint64(entryOffsetBytes, BigInt(entry.addressBytes), false);
    view.setUint32(entryOffsetBytes + SIZE_FIELD_OFFSET_BYTES, entry.sizeBytes, false);
  });
  return header;
}

/** The header followed by each entry's data, in entry order. */
export function encodeLogObject(entries: readonly LogEntryWithData[]): Uint8Array {
  const headerEntries = entries.map((entry) => ({ addressBytes: entry.addressBytes, sizeBytes: entry.data.byteLength }));
  const header = encodeLogHeader(headerEntries);
  const bytes = new Uint8Array(HEADER_SIZE_BYTES + logDataLengthBytes(headerEntries));
  bytes.set(header, 0);
  let offsetBytes = HEADER_SIZE_BYTES;
  for (const entry of entries) {
    bytes.set(entry.data, offsetBytes);
    offsetBytes += entry.data.byteLength;
  }
  assert(offsetBytes === bytes.byteLength);
  return bytes;
}

/** Total data bytes that follow the header. */
export function logDataLengthBytes(entries: readonly LogEntry[]): number {
  let totalBytes = 0;
  for (const entry of entries) totalBytes += entry.sizeBytes;
  return totalBytes;
}

/**
 * Decodes and validates the first HEADER_SIZE_BYTES of `header` (longer input, e.g. a whole
 * object, is fine). The first entry with size 0 ends the list; lsvd writes unused entries as
 * zeros, so anything non-zero from the terminator on is rejected as corruption.
 */
export function decodeLogHeader(header: Uint8Array, context: DecodeContext): LogEntry[] {
  assertContext(context);
  const { objectKey } = context;
  if (header.byteLength < HEADER_SIZE_BYTES) {
    fail('ERR_LOG_HEADER_TRUNCATED', objectKey, `header is ${header.byteLength} bytes, expected ${HEADER_SIZE_BYTES}`);
  }
  const view = viewOf(header);
  const entries: LogEntry[] = [];
  for (let index = 0; index < HEADER_ENTRIES_MAX; index++) {
    const entryOffsetBytes = index * HEADER_ENTRY_SIZE_BYTES;
    const address = view.getBigUint64(entryOffsetBytes, false);
    const sizeBytes = view.getUint32(entryOffsetBytes + SIZE_FIELD_OFFSET_BYTES, false);
    if (sizeBytes === 0) {
      checkTerminator({ header, terminatorIndex: index, objectKey });
      break;
    }
    entries.push(checkEntry({ address, sizeBytes, index, context }));
  }
  return entries;
}

function checkTerminator(options: { header: Uint8Array; terminatorIndex: number; objectKey: string }): void {
  const { header, terminatorIndex, objectKey } = options;
  const startBytes = terminatorIndex * HEADER_ENTRY_SIZE_BYTES;
  for (let offsetBytes = startBytes; offsetBytes < HEADER_SIZE_BYTES; offsetBytes++) {
    if (header[offsetBytes] !== 0) {
      const entryIndex = Math.floor(offsetBytes / HEADER_ENTRY_SIZE_BYTES);
      fail(
        'ERR_LOG_ENTRY_AFTER_TERMINATOR',
        objectKey,
        `entry ${entryIndex} is not zero but entry ${terminatorIndex} (size 0) ends the list`,
      );
    }
  }
}

function checkEntry(options: { address: bigint; sizeBytes: number; index: number; context: DecodeContext }): LogEntry {
  const { address, sizeBytes, index, context } = options;
  const { objectKey, volumeSizeBytes } = context;
  const sector = BigInt(SECTOR_SIZE_BYTES);
  if (address % sector !== 0n || sizeBytes % SECTOR_SIZE_BYTES !== 0) {
    fail('ERR_LOG_ENTRY_UNALIGNED', objectKey, `entry ${index} (address ${address}, size ${sizeBytes}) is not aligned to ${SECTOR_SIZE_BYTES} bytes`);
  }
  // Computed in BigInt: a u64 address plus a u32 size can exceed both 2^64 and 2^53.
  const endBytes = address + BigInt(sizeBytes);
  if (endBytes > U64_MAX) {
    fail('ERR_LOG_ENTRY_OVERFLOW', objectKey, `entry ${index} (address ${address}, size ${sizeBytes}) overflows 64 bits`);
  }
  if (endBytes > BigInt(volumeSizeBytes)) {
    fail('ERR_LOG_ENTRY_PAST_VOLUME_END', objectKey, `entry ${index} ends at byte ${endBytes}, past the volume end at ${volumeSizeBytes}`);
  }
  return { addressBytes: Number(address), sizeBytes };
}

/** Throws ERR_LOG_DATA_LENGTH unless the object is exactly the header plus every entry's data. */
export function checkLogObjectLength(entries: readonly LogEntry[], objectSizeBytes: number, context: DecodeContext): void {
  assert(Number.isSafeInteger(objectSizeBytes) && objectSizeBytes >= 0, 'objectSizeBytes must be a non-negative integer');
  if (objectSizeBytes < HEADER_SIZE_BYTES) {
    fail('ERR_LOG_HEADER_TRUNCATED', context.objectKey, `object is ${objectSizeBytes} bytes, shorter than its ${HEADER_SIZE_BYTES}-byte header`);
  }
  const expectedDataBytes = logDataLengthBytes(entries);
  const actualDataBytes = objectSizeBytes - HEADER_SIZE_BYTES;
  if (actualDataBytes !== expectedDataBytes) {
    fail('ERR_LOG_DATA_LENGTH', context.objectKey, `data is ${actualDataBytes} bytes, header says ${expectedDataBytes}`);
  }
}

/** Decodes a whole object: validated entries and where each entry's data starts in `bytes`. */
export function decodeLogObject(bytes: Uint8Array, context: DecodeContext): DecodedLogObject {
  const entries = decodeLogHeader(bytes, context);
  checkLogObjectLength(entries, bytes.byteLength, context);
  return { entries, dataOffsetsBytes: logDataOffsetsBytes(entries) };
}

/** Where each entry's data starts within the object: right after the header, back to back. */
export function logDataOffsetsBytes(entries: readonly LogEntry[]): number[] {
  const dataOffsetsBytes: number[] = [];
  let offsetBytes = HEADER_SIZE_BYTES;
  for (const entry of entries) {
    dataOffsetsBytes.push(offsetBytes);
    offsetBytes += entry.sizeBytes;
  }
  return dataOffsetsBytes;
}
