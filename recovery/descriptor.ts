/**
 * The volume descriptor, `volume.json` (DESIGN.md §1 "Other keys"): format version, volume
 * id, size, sector size. Created with the volume; a larger configured size grows it; a
 * smaller one is refused (shrinking could cut off written data).
 *
 * Volumes written by Fly.io's lsvd have log objects but no descriptor: opening one needs
 * `adoptExisting` and a size, so a typo in a prefix never silently turns into a new volume
 * on top of someone's data.
 */
import type { Logger } from 'pino';
import { classifyKey, VOLUME_DESCRIPTOR_KEY } from '../logformat/keys.js';
import { SECTOR_SIZE_BYTES, VOLUME_SIZE_MAX_BYTES } from '../logformat/limits.js';
import { decodeVolumeDescriptor, encodeVolumeDescriptor, type VolumeDescriptor } from '../logformat/volume-descriptor.js';
import type { ObjectStore } from '../store/object-store.js';
import { RecoveryError } from './errors.js';
import { type Sleeper, withRetries } from './retry.js';
import { isNotFound, isPreconditionFailed } from './store-errors.js';

export interface EnsureDescriptorOptions {
  store: ObjectStore;
  logger: Logger;
  clock: Sleeper;
  /** Create with this size, or grow to it; absent: use the descriptor's size. */
  sizeBytes?: number | undefined;
  /** Create the descriptor for log objects that have none (a volume from Fly's lsvd). */
  adoptExisting?: boolean | undefined;
  /** Used only when a descriptor is created. */
  newVolumeId: string;
  /** ISO 8601 time, used only when a descriptor is created. */
  createdAt: string;
}

export type DescriptorAction = 'opened' | 'created' | 'adopted' | 'grown';

export async function readVolumeDescriptor(options: { store: ObjectStore; clock: Sleeper }): Promise<VolumeDescriptor | undefined> {
  const { store } = options;
  const bytes = await withRetries({
    clock: options.clock,
    what: 'read the volume descriptor',
    objectKey: VOLUME_DESCRIPTOR_KEY,
    run: async () => {
      try {
        return await store.get(VOLUME_DESCRIPTOR_KEY);
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },
  });
  if (bytes === undefined) return undefined;
  const descriptor = decodeVolumeDescriptor(bytes, { objectKey: VOLUME_DESCRIPTOR_KEY });
  if (descriptor.sectorSizeBytes !== SECTOR_SIZE_BYTES) {
    throw new RecoveryError('ERR_VOLUME_SECTOR_SIZE_UNSUPPORTED', `The volume in ${store.description} has ${descriptor.sectorSizeBytes}-byte sectors; this version serves only ${SECTOR_SIZE_BYTES}-byte sectors`, {
      objectKey: VOLUME_DESCRIPTOR_KEY,
    });
  }
  return descriptor;
}

/** Reads, creates or grows the descriptor, and says which it did. */
export async function ensureVolumeDescriptor(options: EnsureDescriptorOptions): Promise<{ descriptor: VolumeDescriptor; action: DescriptorAction }> {
  const { store, logger, sizeBytes } = options;
  if (sizeBytes !== undefined) checkSize(sizeBytes);
  const existing = await readVolumeDescriptor(options);
  if (existing !== undefined) {
    if (sizeBytes === undefined || sizeBytes === existing.sizeBytes) return { descriptor: existing, action: 'opened' };
    if (sizeBytes < existing.sizeBytes) {
      throw new RecoveryError('ERR_VOLUME_SHRINK_REFUSED', `The volume in ${store.description} is ${existing.sizeBytes} bytes; shrinking it to ${sizeBytes} bytes is refused (it could cut off written data). Configure a size of at least ${existing.sizeBytes} bytes.`, {
        objectKey: VOLUME_DESCRIPTOR_KEY,
      });
    }
    const grown: VolumeDescriptor = { ...existing, sizeBytes };
    await withRetries({ clock: options.clock, what: 'rewrite the volume descriptor', objectKey: VOLUME_DESCRIPTOR_KEY, run: () => store.put(VOLUME_DESCRIPTOR_KEY, encodeVolumeDescriptor(grown)) });
    logger.info({ fromBytes: existing.sizeBytes, toBytes: sizeBytes }, `Grew the volume from ${existing.sizeBytes} to ${sizeBytes} bytes.`);
    return { descriptor: grown, action: 'grown' };
  }
  const hasLogObjects = await containsLogObjects(store);
  if (hasLogObjects && options.adoptExisting !== true) {
    throw new RecoveryError('ERR_VOLUME_DESCRIPTOR_MISSING', `${store.description} holds log objects but no ${VOLUME_DESCRIPTOR_KEY}. If this is a volume written by Fly's lsvd, adopt it (with its size) to create the descriptor; otherwise check the bucket and prefix.`, {
      objectKey: VOLUME_DESCRIPTOR_KEY,
    });
  }
  if (sizeBytes === undefined) {
    throw new RecoveryError('ERR_VOLUME_SIZE_REQUIRED', `There is no volume in ${store.description} yet; give its size to create it.`, { objectKey: VOLUME_DESCRIPTOR_KEY });
  }
  const created: VolumeDescriptor = { formatVersion: 1, volumeId: options.newVolumeId, sizeBytes, sectorSizeBytes: SECTOR_SIZE_BYTES, createdAt: options.createdAt };
  const raced = await createDescriptor(options, created);
  if (raced !== undefined) return ensureVolumeDescriptor(options);
  const action: DescriptorAction = hasLogObjects ? 'adopted' : 'created';
  logger.info({ volumeId: created.volumeId, sizeBytes }, hasLogObjects ? `Adopted the existing log objects as volume ${created.volumeId} (${sizeBytes} bytes).` : `Created volume ${created.volumeId} (${sizeBytes} bytes).`);
  return { descriptor: created, action };
}

/** Create-only; returns 'raced' when another process created it first (then re-read it). */
async function createDescriptor(options: EnsureDescriptorOptions, descriptor: VolumeDescriptor): Promise<'raced' | undefined> {
  return withRetries({
    clock: options.clock,
    what: 'create the volume descriptor',
    objectKey: VOLUME_DESCRIPTOR_KEY,
    run: async () => {
      try {
        await options.store.put(VOLUME_DESCRIPTOR_KEY, encodeVolumeDescriptor(descriptor), { createOnly: true });
        return undefined;
      } catch (error) {
        if (isPreconditionFailed(error)) return 'raced';
        throw error;
      }
    },
  });
}

async function containsLogObjects(store: ObjectStore): Promise<boolean> {
  for await (const info of store.list()) {
    if (classifyKey(info.key).kind === 'log') return true;
  }
  return false;
}

function checkSize(sizeBytes: number): void {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0 || sizeBytes % SECTOR_SIZE_BYTES !== 0 || sizeBytes > VOLUME_SIZE_MAX_BYTES) {
    throw new RecoveryError('ERR_VOLUME_SIZE_INVALID', `A volume size must be a positive multiple of ${SECTOR_SIZE_BYTES} bytes, at most ${VOLUME_SIZE_MAX_BYTES}; got ${sizeBytes}`);
  }
}
