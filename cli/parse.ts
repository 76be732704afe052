/** Parsers for command-line values; each throws a usage error (exit 2) naming the flag. */

import { tryParseLogKey } from '../logformat/keys.js';
import { SEQUENCE_FIRST, SEQUENCE_MAX } from '../logformat/limits.js';
import { usageError } from './errors.js';

const SIZE_PATTERN = /^(\d+)\s*(|k|kib|m|mib|g|gib|t|tib)$/i;
const SIZE_MULTIPLIERS: Readonly<Record<string, number>> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/** `8589934592`, `8G`, `8GiB` → bytes (binary multiples). */
export function parseSizeBytes(text: string, what: string): number {
  const match = SIZE_PATTERN.exec(text.trim());
  const digits = match?.[1];
  const unit = match?.[2]?.toLowerCase().replace(/i?b$/, '');
  const multiplier = unit === undefined ? undefined : SIZE_MULTIPLIERS[unit];
  if (digits === undefined || multiplier === undefined) {
    throw usageError(`${what} must be a size in bytes (e.g. 1073741824 or 1GiB), not ${JSON.stringify(text)}`);
  }
  const sizeBytes = Number(digits) * multiplier;
  if (!Number.isSafeInteger(sizeBytes)) throw usageError(`${what} ${JSON.stringify(text)} is too large`);
  return sizeBytes;
}

/** A sequence number in decimal (`42`) or as its 16-hex-digit log key (`000000000000002a`). */
export function parseSequence(text: string, what: string): number {
  const fromKey = tryParseLogKey(text);
  if (fromKey !== undefined) return fromKey;
  const sequence = /^\d{1,16}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(sequence) || sequence < SEQUENCE_FIRST || sequence > SEQUENCE_MAX) {
    throw usageError(`${what} must be a sequence number ${SEQUENCE_FIRST}..${SEQUENCE_MAX} or a 16-hex-digit log key, not ${JSON.stringify(text)}`);
  }
  return sequence;
}

/** Whether a command-line argument names a log object by sequence rather than a file. */
export function looksLikeSequence(text: string): boolean {
  return /^\d+$/.test(text) || tryParseLogKey(text) !== undefined;
}
