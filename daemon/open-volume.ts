/**
 * Opening a volume (DESIGN.md §3 "Recovery"): read, create or grow the descriptor; replay
 * the gap-free prefix of the log into a fresh extent map; archive what follows a gap; only
 * then start the engine. Nothing is served before recovery has finished.
 */
import type { Logger } from 'pino';
import { ensureVolumeDescriptor } from '../recovery/descriptor.js';
import { recoverVolume, type RecoveryResult } from '../recovery/recover.js';
import type { ObjectStore } from '../store/object-store.js';
import { type Clock, type Random, randomHex } from './clock.js';
import { ExtentMap } from './extent-map.js';
import { applyRecoveredObject } from './replay.js';
import { Volume } from './volume.js';
import { resolveVolumeConfig, type VolumeConfig } from './volume-config.js';

export interface OpenVolumeOptions {
  store: ObjectStore;
  clock: Clock;
  random: Random;
  logger: Logger;
  config?: Partial<VolumeConfig>;
  /** Create the volume with this size, or grow it to this size; smaller than the volume is refused. */
  sizeBytes?: number;
  /** Log objects without a descriptor (written by Fly's lsvd): create the descriptor with sizeBytes. */
  adoptExisting?: boolean;
}

/** Random bytes in a volume id (128 bits) and in an archive batch id. */
const VOLUME_ID_RANDOM_BYTES = 16;
const BATCH_ID_RANDOM_BYTES = 4;

export async function openVolume(options: OpenVolumeOptions): Promise<Volume> {
  const { store, clock, random, logger } = options;
  const config = resolveVolumeConfig(options.config);
  const { descriptor } = await ensureVolumeDescriptor({
    store,
    logger,
    clock,
    sizeBytes: options.sizeBytes,
    adoptExisting: options.adoptExisting,
    newVolumeId: randomHex(random, VOLUME_ID_RANDOM_BYTES),
    createdAt: new Date(clock.nowMs()).toISOString(),
  });
  const map = new ExtentMap({ volumeSizeBytes: descriptor.sizeBytes });
  const recovery: RecoveryResult = await recoverVolume({
    store,
    logger,
    clock,
    volumeSizeBytes: descriptor.sizeBytes,
    batchId: formatBatchId(clock, random),
    onObject: (object) => applyRecoveredObject(map, object),
  });
  logger.info(
    { volumeId: descriptor.volumeId, sizeBytes: descriptor.sizeBytes, lastSequence: recovery.lastSequence, mapBytes: map.memoryUsageBytes() },
    `Volume ${descriptor.volumeId} is ready (${descriptor.sizeBytes} bytes, log through object ${recovery.lastSequence}).`,
  );
  return new Volume({ store, clock, random, logger, config, map, sizeBytes: descriptor.sizeBytes, lastSequence: recovery.lastSequence, volumeId: descriptor.volumeId });
}

/** `20250102T030405Z-1a2b3c4d`: sorts by time, unique per run, valid in a key. */
export function formatBatchId(clock: Clock, random: Random): string {
  const stamp = new Date(clock.nowMs()).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomHex(random, BATCH_ID_RANDOM_BYTES)}`;
}
