/**
 * `lsvd export`: the raw disk image, rebuilt from the bucket without a running daemon
 * (DESIGN.md §3 "Recovery", "Read"). Read-only recovery replays the log (or its first objects,
 * every object boundary being a state the disk really had, DESIGN.md §1) into an ExtentMap;
 * `exportImage` (export-image.ts) then fetches every mapped run and hands it to a sink
 * (export-sinks.ts): a sparse file or a stream.
 */
import type { Logger } from 'pino';
import type { VolumeDescriptor } from '../logformat/volume-descriptor.js';
import { readVolumeDescriptor } from '../recovery/descriptor.js';
import { RecoveryError } from '../recovery/errors.js';
import { recoverVolume, type RecoveryResult } from '../recovery/recover.js';
import type { Sleeper } from '../recovery/retry.js';
import type { ObjectStore } from '../store/object-store.js';
import { ExtentMap } from './extent-map.js';
import { applyRecoveredObject } from './replay.js';

export { exportImage, mappedBytes, EXPORT_GETS_IN_FLIGHT_MAX, EXPORT_IN_FLIGHT_BYTES_MAX, EXPORT_WINDOW_SECTORS } from './export-image.js';
export type { ExportImageOptions, ExportProgress, ExportResult, ImageSink } from './export-image.js';

export interface LoadVolumeOptions {
  store: ObjectStore;
  logger: Logger;
  clock: Sleeper;
  /** Replay only up to this log object (it must be within the gap-free prefix); default: all of it. */
  throughSequence?: number;
}

export interface LoadedVolume {
  descriptor: VolumeDescriptor;
  map: ExtentMap;
  recovery: RecoveryResult;
}

/** Replays the log into a fresh ExtentMap with read-only recovery: nothing in the bucket changes. */
export async function loadVolumeMap(options: LoadVolumeOptions): Promise<LoadedVolume> {
  const { store, logger, clock } = options;
  const descriptor = await readVolumeDescriptor({ store, clock });
  if (descriptor === undefined) {
    throw new RecoveryError('ERR_VOLUME_DESCRIPTOR_MISSING', `${store.description} has no volume.json: there is no lsvd volume here (check the store and prefix)`, { objectKey: 'volume.json' });
  }
  const map = new ExtentMap({ volumeSizeBytes: descriptor.sizeBytes });
  const recovery = await recoverVolume({
    store,
    logger,
    clock,
    volumeSizeBytes: descriptor.sizeBytes,
    readOnly: true,
    ...(options.throughSequence === undefined ? {} : { throughSequence: options.throughSequence }),
    onObject: (object) => applyRecoveredObject(map, object),
  });
  return { descriptor, map, recovery };
}

