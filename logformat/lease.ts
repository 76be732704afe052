/**
 * `lease.json`: which daemon holds the volume (DESIGN.md §6). Human-readable JSON, versioned
 * like `volume.json`; readers ignore fields they do not know.
 */

import assert from 'node:assert/strict';
import { LogFormatError } from './errors.js';

export const LEASE_FORMAT_VERSION = 1;

/** A lease is a few hundred bytes; anything larger is not ours. */
export const LEASE_SIZE_MAX_BYTES = 4096;

export interface Lease {
  formatVersion: 1;
  /** Random per daemon process: tells two daemons on one host apart. */
  holderId: string;
  hostname: string;
  pid: number;
  /** ISO 8601 UTC timestamp of the claim. */
  acquiredAt: string;
}

const HOLDER_ID_PATTERN = /^[0-9a-f]{8,64}$/;

function leaseProblem(candidate: Record<string, unknown>): string | undefined {
  const { formatVersion, holderId, hostname, pid, acquiredAt } = candidate;
  if (formatVersion !== LEASE_FORMAT_VERSION) return `formatVersion is ${JSON.stringify(formatVersion)}, this lsvd reads version ${LEASE_FORMAT_VERSION}`;
  if (typeof holderId !== 'string' || !HOLDER_ID_PATTERN.test(holderId)) return 'holderId must be 8..64 lowercase hex digits';
  if (typeof hostname !== 'string' || hostname.length === 0 || hostname.length > 255) return 'hostname must be 1..255 characters';
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0) return `pid ${JSON.stringify(pid)} is not a positive integer`;
  if (typeof acquiredAt !== 'string' || Number.isNaN(Date.parse(acquiredAt))) return `acquiredAt ${JSON.stringify(acquiredAt)} is not a timestamp`;
  return undefined;
}

export function encodeLease(lease: Lease): Uint8Array {
  const problem = leaseProblem({ ...lease });
  assert(problem === undefined, `invalid lease: ${problem}`);
  const ordered: Lease = {
    formatVersion: lease.formatVersion,
    holderId: lease.holderId,
    hostname: lease.hostname,
    pid: lease.pid,
    acquiredAt: lease.acquiredAt,
  };
  const bytes = new TextEncoder().encode(`${JSON.stringify(ordered, null, 2)}\n`);
  assert(bytes.byteLength <= LEASE_SIZE_MAX_BYTES);
  return bytes;
}

export function decodeLease(bytes: Uint8Array, context: { objectKey: string }): Lease {
  const { objectKey } = context;
  const fail = (detail: string, cause?: unknown): never => {
    throw new LogFormatError('ERR_LEASE_INVALID', `Cannot decode lease "${objectKey}": ${detail}`, { objectKey, cause });
  };
  if (bytes.byteLength > LEASE_SIZE_MAX_BYTES) fail(`it is ${bytes.byteLength} bytes, more than ${LEASE_SIZE_MAX_BYTES}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    fail('it is not UTF-8 JSON', error);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return fail('it is not a JSON object');
  const record = parsed as Record<string, unknown>;
  const problem = leaseProblem(record);
  if (problem !== undefined) fail(problem);
  return {
    formatVersion: LEASE_FORMAT_VERSION,
    holderId: record['holderId'] as string,
    hostname: record['hostname'] as string,
    pid: record['pid'] as number,
    acquiredAt: record['acquiredAt'] as string,
  };
}
