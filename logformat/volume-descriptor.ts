/**
 * `volume.json`: the volume descriptor, written once when a volume is created (DESIGN.md §1).
 * Human-readable JSON so an operator can read it with `aws s3 cp - | cat`. Versioned by
 * `formatVersion`; within a version, fields are only ever added, and readers ignore fields
 * they do not know (docs/FORMAT.md).
 */

import assert from 'node:assert/strict';
import { LogFormatError } from './errors.js';
import { SECTOR_SIZE_BYTES, VOLUME_DESCRIPTOR_SIZE_MAX_BYTES, VOLUME_ID_LENGTH_MAX, VOLUME_SIZE_MAX_BYTES } from './limits.js';

export const VOLUME_FORMAT_VERSION = 1;

export interface VolumeDescriptor {
  formatVersion: 1;
  /** 1..VOLUME_ID_LENGTH_MAX characters of [0-9A-Za-z._:-], e.g. a UUID. */
  volumeId: string;
  /** A positive multiple of SECTOR_SIZE_BYTES, at most VOLUME_SIZE_MAX_BYTES. */
  sizeBytes: number;
  /** Always SECTOR_SIZE_BYTES. */
  sectorSizeBytes: number;
  /** ISO 8601 UTC timestamp, e.g. `2024-05-01T12:00:00.000Z`. */
  createdAt: string;
}

const VOLUME_ID_PATTERN = /^[0-9A-Za-z._:-]+$/;
// YYYY-MM-DDTHH:MM:SS, optional fraction, then Z or an offset: what Date#toISOString writes and more.
const TIMESTAMP_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** Why `candidate` is not a valid descriptor, or undefined when it is. */
function descriptorProblem(candidate: Record<string, unknown>): string | undefined {
  const { formatVersion, volumeId, sizeBytes, sectorSizeBytes, createdAt } = candidate;
  if (formatVersion !== VOLUME_FORMAT_VERSION) {
    return `formatVersion is ${JSON.stringify(formatVersion)}, this lsvd reads version ${VOLUME_FORMAT_VERSION}`;
  }
  if (typeof volumeId !== 'string' || volumeId.length === 0 || volumeId.length > VOLUME_ID_LENGTH_MAX || !VOLUME_ID_PATTERN.test(volumeId)) {
    return `volumeId must be 1..${VOLUME_ID_LENGTH_MAX} characters of [0-9A-Za-z._:-]`;
  }
  if (typeof sizeBytes !== 'number' || !Number.isSafeInteger(sizeBytes) || sizeBytes <= 0 || sizeBytes % SECTOR_SIZE_BYTES !== 0 || sizeBytes > VOLUME_SIZE_MAX_BYTES) {
    return `sizeBytes ${JSON.stringify(sizeBytes)} is not a positive multiple of ${SECTOR_SIZE_BYTES} up to ${VOLUME_SIZE_MAX_BYTES}`;
  }
  if (sectorSizeBytes !== SECTOR_SIZE_BYTES) {
    return `sectorSizeBytes is ${JSON.stringify(sectorSizeBytes)}, lsvd volumes use ${SECTOR_SIZE_BYTES}`;
  }
  if (typeof createdAt !== 'string' || !TIMESTAMP_PATTERN.test(createdAt) || Number.isNaN(Date.parse(createdAt))) {
    return `createdAt ${JSON.stringify(createdAt)} is not an ISO 8601 timestamp`;
  }
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function encodeVolumeDescriptor(descriptor: VolumeDescriptor): Uint8Array {
  const problem = descriptorProblem({ ...descriptor });
  assert(problem === undefined, `invalid volume descriptor: ${problem}`);
  // Fixed field order, two-space indent, trailing newline: stable bytes for the same descriptor.
  const ordered: VolumeDescriptor = {
    formatVersion: descriptor.formatVersion,
    volumeId: descriptor.volumeId,
    sizeBytes: descriptor.sizeBytes,
    sectorSizeBytes: descriptor.sectorSizeBytes,
    createdAt: descriptor.createdAt,
  };
  const bytes = new TextEncoder().encode(`${JSON.stringify(ordered, null, 2)}\n`);
  assert(bytes.byteLength <= VOLUME_DESCRIPTOR_SIZE_MAX_BYTES);
  return bytes;
}

export function decodeVolumeDescriptor(bytes: Uint8Array, context: { objectKey: string }): VolumeDescriptor {
  const { objectKey } = context;
  const fail = (detail: string, cause?: unknown): never => {
    throw new LogFormatError('ERR_DESCRIPTOR_INVALID', `Cannot decode volume descriptor "${objectKey}": ${detail}`, { objectKey, cause });
  };
  if (bytes.byteLength > VOLUME_DESCRIPTOR_SIZE_MAX_BYTES) {
    fail(`it is ${bytes.byteLength} bytes, more than ${VOLUME_DESCRIPTOR_SIZE_MAX_BYTES}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    fail('it is not UTF-8 JSON', error);
  }
  if (!isRecord(parsed)) return fail('it is not a JSON object');
  const problem = descriptorProblem(parsed);
  if (problem !== undefined) fail(problem);
  return {
    formatVersion: VOLUME_FORMAT_VERSION,
    volumeId: parsed['volumeId'] as string,
    sizeBytes: parsed['sizeBytes'] as number,
    sectorSizeBytes: parsed['sectorSizeBytes'] as number,
    createdAt: parsed['createdAt'] as string,
  };
}
