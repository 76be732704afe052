/**
 * Opening a volume (DESIGN.md §3 "Recovery"): read, create or grow the descriptor; replay
 * the gap-free prefix of the log into a fresh extent map; archive what follows a gap; only
 * then start the engine. Nothing is served before recovery has finished.
 */
import type { Logger } from 'pino';
import { formatLogKey } from '../logformat/keys.js';
import { encodeLogObject } from '../logformat/log-object.js';
import { ensureVolumeDescriptor } from '../recovery/descriptor.js';
import { isPreconditionFailed } from '../recovery/store-errors.js';
import { VolumeError } from './errors.js';
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
  /**
   * The volume was taken over from a holder that may still be running (`--force`): claim the
   * next sequence numbers with empty log objects before writing, so that every upload the old
   * writer may have in flight is refused (create-only) and fences it. See fenceAfterTakeover.
   */
  fenceAfterTakeover?: boolean;
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
  const lastSequence = options.fenceAfterTakeover === true
    ? await fenceAfterTakeover({ store, logger, lastSequence: recovery.lastSequence, fenceCount: config.uploadsInFlightMax })
    : recovery.lastSequence;
  logger.info(
    { volumeId: descriptor.volumeId, sizeBytes: descriptor.sizeBytes, lastSequence, mapBytes: map.memoryUsageBytes() },
    `Volume ${descriptor.volumeId} is ready (${descriptor.sizeBytes} bytes, log through object ${lastSequence}).`,
  );
  return new Volume({ store, clock, random, logger, config, map, sizeBytes: descriptor.sizeBytes, lastSequence, volumeId: descriptor.volumeId });
}

/**
 * DESIGN.md §6: after a forced take-over the old writer may still be alive, with up to
 * uploadsInFlightMax uploads in flight, all numbered at most lastSequence + uploadsInFlightMax
 * (its lowest unstored number is at most lastSequence + 1, recovery having stopped there).
 * Creating empty log objects (valid, no entries) at every one of those numbers makes each of
 * its uploads fail create-only with different bytes, which fences it; anything it queued later
 * starts only after one of those failures. Should any of ours be refused, the old writer
 * stored an object after our recovery: start-up stops rather than guess.
 */
async function fenceAfterTakeover(options: { store: ObjectStore; logger: Logger; lastSequence: number; fenceCount: number }): Promise<number> {
  const { store, logger, lastSequence, fenceCount } = options;
  const empty = encodeLogObject([]);
  const sequences = Array.from({ length: fenceCount }, (_, index) => lastSequence + 1 + index);
  const refused: string[] = [];
  await Promise.all(sequences.map(async (sequence) => {
    try {
      await store.put(formatLogKey(sequence), empty, { createOnly: true });
    } catch (error) {
      if (!isPreconditionFailed(error)) throw error;
      refused.push(formatLogKey(sequence));
    }
  }));
  if (refused.length > 0) {
    throw new VolumeError('ERR_VOLUME_TAKEOVER_RACE', `The previous holder is still writing: log object "${refused.sort()[0]}" appeared during the take-over. Stop that daemon, then start again.`);
  }
  logger.warn({ fencedFrom: lastSequence + 1, fencedThrough: lastSequence + fenceCount },
    `Fenced the previous holder: claimed log objects ${lastSequence + 1}..${lastSequence + fenceCount} with empty objects; its next upload is refused.`);
  return lastSequence + fenceCount;
}

/** `20250102T030405Z-1a2b3c4d`: sorts by time, unique per run, valid in a key. */
export function formatBatchId(clock: Clock, random: Random): string {
  const stamp = new Date(clock.nowMs()).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomHex(random, BATCH_ID_RANDOM_BYTES)}`;
}
