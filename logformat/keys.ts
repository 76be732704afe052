/**
 * Key names under a volume prefix (docs/FORMAT.md). Every key here is RELATIVE to the volume
 * prefix; the store adds the prefix. Log object keys are the sequence number in 16 lowercase
 * hex digits, so lexical order is numeric order (DESIGN.md §1).
 */

import assert from 'node:assert/strict';
import { LogFormatError } from './errors.js';
import { LOG_KEY_HEX_DIGITS, SEQUENCE_FIRST, SEQUENCE_MAX } from './limits.js';

export const VOLUME_DESCRIPTOR_KEY = 'volume.json';
export const LEASE_KEY = 'lease.json';
export const ZERO_RANGES_KEY_PREFIX = 'zeros/';
export const ARCHIVE_KEY_PREFIX = 'archive/';
/** Reserved for checkpoints (DESIGN.md §5): `checkpoints/<16 hex digits>`. */
export const CHECKPOINT_KEY_PREFIX = 'checkpoints/';
/** The store capability probe (DESIGN.md §6) writes and deletes its own keys here. */
export const PROBE_KEY_PREFIX = 'probe/';

const SEQUENCE_KEY_PATTERN = new RegExp(`^[0-9a-f]{${LOG_KEY_HEX_DIGITS}}$`);
const ARCHIVE_BATCH_ID_PATTERN = /^[0-9A-Za-z._-]+$/;

export type KeyKind =
  | { kind: 'log'; sequence: number }
  | { kind: 'zero-ranges'; sequence: number }
  | { kind: 'descriptor' }
  | { kind: 'lease' }
  | { kind: 'archive' }
  | { kind: 'checkpoint'; sequence: number }
  | { kind: 'probe' }
  | { kind: 'unknown' };

function assertSequence(sequence: number): void {
  assert(Number.isSafeInteger(sequence), 'sequence must be an integer');
  assert(sequence >= SEQUENCE_FIRST && sequence <= SEQUENCE_MAX, `sequence must be within ${SEQUENCE_FIRST}..${SEQUENCE_MAX}`);
}

/** `1` → `0000000000000001`. */
export function formatLogKey(sequence: number): string {
  assertSequence(sequence);
  return sequence.toString(16).padStart(LOG_KEY_HEX_DIGITS, '0');
}

/** The sequence number in `key`, or undefined when `key` is not exactly a log object key. */
export function tryParseLogKey(key: string): number | undefined {
  if (!SEQUENCE_KEY_PATTERN.test(key)) return undefined;
  const sequence = BigInt(`0x${key}`);
  if (sequence < BigInt(SEQUENCE_FIRST) || sequence > BigInt(SEQUENCE_MAX)) return undefined;
  return Number(sequence);
}

/** Throws ERR_KEY_INVALID for anything but 16 lowercase hex digits within the sequence range. */
export function parseLogKey(key: string): number {
  const sequence = tryParseLogKey(key);
  if (sequence === undefined) {
    throw new LogFormatError(
      'ERR_KEY_INVALID',
      `"${key}" is not a log object key: expected ${LOG_KEY_HEX_DIGITS} lowercase hex digits naming a sequence number ${SEQUENCE_FIRST}..${SEQUENCE_MAX}`,
      { objectKey: key },
    );
  }
  return sequence;
}

/** `zeros/<16 hex digits>`: the zero ranges applied before log object `sequence`. */
export function formatZeroRangesKey(sequence: number): string {
  return ZERO_RANGES_KEY_PREFIX + formatLogKey(sequence);
}

/** `checkpoints/<16 hex digits>`: reserved for the map valid after log object `sequence`. */
export function formatCheckpointKey(sequence: number): string {
  return CHECKPOINT_KEY_PREFIX + formatLogKey(sequence);
}

/** `archive/<batchId>/<key>`: where recovery or rollback moves `key` aside. */
export function formatArchiveKey(options: { batchId: string; key: string }): string {
  const { batchId, key } = options;
  assert(ARCHIVE_BATCH_ID_PATTERN.test(batchId), 'archive batchId must match [0-9A-Za-z._-]+');
  assert(batchId !== '.' && batchId !== '..', 'archive batchId must not be a path step');
  assert(key.length > 0 && !key.startsWith('/'), 'archived key must be a non-empty relative key');
  return `${ARCHIVE_KEY_PREFIX}${batchId}/${key}`;
}

function sequenceAfterPrefix(key: string, prefix: string): number | undefined {
  return key.startsWith(prefix) ? tryParseLogKey(key.slice(prefix.length)) : undefined;
}

/** What a key under the volume prefix is. Keys of no known pattern are 'unknown' (warned, never deleted). */
export function classifyKey(key: string): KeyKind {
  const logSequence = tryParseLogKey(key);
  if (logSequence !== undefined) return { kind: 'log', sequence: logSequence };
  if (key === VOLUME_DESCRIPTOR_KEY) return { kind: 'descriptor' };
  if (key === LEASE_KEY) return { kind: 'lease' };
  const zeroSequence = sequenceAfterPrefix(key, ZERO_RANGES_KEY_PREFIX);
  if (zeroSequence !== undefined) return { kind: 'zero-ranges', sequence: zeroSequence };
  const checkpointSequence = sequenceAfterPrefix(key, CHECKPOINT_KEY_PREFIX);
  if (checkpointSequence !== undefined) return { kind: 'checkpoint', sequence: checkpointSequence };
  if (key.startsWith(ARCHIVE_KEY_PREFIX)) return { kind: 'archive' };
  if (key.startsWith(PROBE_KEY_PREFIX)) return { kind: 'probe' };
  return { kind: 'unknown' };
}
