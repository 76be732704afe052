/**
 * One writer per volume (DESIGN.md §6): a daemon claims `lease.json` before it writes, and a
 * second daemon refuses to start, naming the holder. The lease is a claim, not a lock with a
 * timeout: a daemon that crashed keeps it until a daemon on the same host finds its process
 * gone, or an operator who made sure it is dead takes the volume over with `--force`. A
 * writer that was taken over is fenced by its log objects' create-only puts (docs/ENGINE.md).
 */

import { decodeLease, encodeLease, type Lease } from '../logformat/lease.js';
import { LEASE_KEY } from '../logformat/keys.js';
import type { ObjectStore } from '../store/object-store.js';
import type { Logger } from 'pino';
import { RecoveryError } from './errors.js';
import { isNotFound, isPreconditionFailed } from './store-errors.js';

export interface LeaseHolder {
  holderId: string;
  hostname: string;
  pid: number;
}

export interface ClaimLeaseOptions {
  store: ObjectStore;
  holder: LeaseHolder;
  /** Take the volume over from another holder (the operator made sure it is dead). */
  force: boolean;
  /** Whether a process of this host is running; decides whether a same-host lease is stale. */
  isProcessAlive: (pid: number) => boolean;
  nowIso: () => string;
  logger: Logger;
}

export type LeaseClaim = 'claimed' | 'reclaimed-stale' | 'taken-over';

/** Reads the current lease, or undefined when the volume is free. */
export async function readLease(store: ObjectStore): Promise<Lease | undefined> {
  try {
    return decodeLease(await store.get(LEASE_KEY), { objectKey: LEASE_KEY });
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

export function describeHolder(lease: Lease): string {
  return `lsvd on host "${lease.hostname}" (pid ${lease.pid}, holder ${lease.holderId}, since ${lease.acquiredAt})`;
}

function isStale(lease: Lease, options: ClaimLeaseOptions): boolean {
  if (lease.hostname !== options.holder.hostname) return false;
  // The same host: the pid is ours (a restarted container reuses pid 1) or no longer running.
  return lease.pid === options.holder.pid || !options.isProcessAlive(lease.pid);
}

export async function claimLease(options: ClaimLeaseOptions): Promise<LeaseClaim> {
  const { store, holder, logger } = options;
  const body = encodeLease({ formatVersion: 1, ...holder, acquiredAt: options.nowIso() });
  const existing = await readLease(store);
  if (existing === undefined) {
    try {
      await store.put(LEASE_KEY, body, { createOnly: true });
    } catch (error) {
      if (!isPreconditionFailed(error)) throw error;
      return refuse((await readLease(store)) ?? existing, options);
    }
    await confirmHeld(options);
    return 'claimed';
  }
  if (existing.holderId === holder.holderId) return 'claimed';
  if (isStale(existing, options)) {
    logger.warn({ previousHolder: existing }, `Reclaiming the volume from ${describeHolder(existing)}: that process is gone.`);
  } else if (options.force) {
    logger.warn({ previousHolder: existing }, `Taking the volume over from ${describeHolder(existing)} (--force). If it is still running, its next upload is refused and it stops.`);
  } else {
    return refuse(existing, options);
  }
  await store.put(LEASE_KEY, body);
  await confirmHeld(options);
  return isStale(existing, options) ? 'reclaimed-stale' : 'taken-over';
}

/** A store that ignores create-only can let two claims race; the one that reads back its own wins. */
async function confirmHeld(options: ClaimLeaseOptions): Promise<void> {
  const current = await readLease(options.store);
  if (current?.holderId !== options.holder.holderId) {
    throw new RecoveryError('ERR_LEASE_HELD', `Another lsvd claimed the volume at the same moment: ${current === undefined ? 'the lease vanished' : describeHolder(current)}.`, { objectKey: LEASE_KEY });
  }
}

function refuse(lease: Lease | undefined, options: ClaimLeaseOptions): never {
  const holder = lease === undefined ? 'another lsvd' : describeHolder(lease);
  throw new RecoveryError(
    'ERR_LEASE_HELD',
    `The volume in ${options.store.description} is held by ${holder}. Stop that daemon first; if it is gone for good, start with --force to take the volume over.`,
    { objectKey: LEASE_KEY },
  );
}

/** Gives the volume back on a clean shutdown; a lease taken over by someone else is left alone. */
export async function releaseLease(options: { store: ObjectStore; holder: LeaseHolder; logger: Logger }): Promise<void> {
  const current = await readLease(options.store);
  if (current === undefined) return;
  if (current.holderId !== options.holder.holderId) {
    options.logger.warn({ currentHolder: current }, `Not releasing the lease: it is now held by ${describeHolder(current)}.`);
    return;
  }
  await options.store.delete(LEASE_KEY);
}
