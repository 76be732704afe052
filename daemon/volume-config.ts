/**
 * Tunables of the volume engine, each with its unit and default (documented in docs/ENGINE.md).
 */
import { HEADER_SIZE_BYTES, SECTOR_SIZE_BYTES } from '../logformat/limits.js';
import { VolumeError } from './errors.js';

const MIB = 1024 * 1024;

export interface VolumeConfig {
  /** An open object is sealed once its data reaches this size. */
  targetObjectSizeBytes: number;
  /** An open object with data is sealed after this long without a write. */
  idleSealMs: number;
  /** Sealed objects uploading at once (DESIGN.md §3: 100). */
  uploadsInFlightMax: number;
  /** Data acknowledged but not yet in the store; past this, new writes wait (backpressure). */
  unuploadedBytesMax: number;
  /** Read cache of uploaded data (LRU). 0 disables the cache and sequential prefetch. */
  readCacheBytes: number;
  /** A read of store data retries failed GETs for this long, then fails (EIO). */
  readRetryTimeoutMs: number;
  /** Store GETs in flight at once, demand reads and prefetch together. */
  readsInFlightMax: number;
  /** First delay before retrying a failed store request; doubles per attempt, with jitter. */
  retryBaseDelayMs: number;
  /** Ceiling of the retry delay. */
  retryMaxDelayMs: number;
}

export const DEFAULT_VOLUME_CONFIG: Readonly<VolumeConfig> = Object.freeze({
  targetObjectSizeBytes: 8 * MIB,
  idleSealMs: 1000,
  uploadsInFlightMax: 100,
  unuploadedBytesMax: 256 * MIB,
  readCacheBytes: 64 * MIB,
  readRetryTimeoutMs: 60_000,
  readsInFlightMax: 100,
  retryBaseDelayMs: 100,
  retryMaxDelayMs: 10_000,
});

/** An object's data must fit one u32 entry size and stay a sensible amount of memory. */
export const TARGET_OBJECT_SIZE_MAX_BYTES = 1024 * MIB;

/** The open object never ages past this many idle periods, even under a trickle of writes. */
export const OPEN_OBJECT_AGE_MAX_IDLE_PERIODS = 5;

function invalid(message: string): never {
  throw new VolumeError('ERR_VOLUME_CONFIG_INVALID', message);
}

/** Fills defaults and checks the values against each other. */
export function resolveVolumeConfig(partial: Partial<VolumeConfig> = {}): Readonly<VolumeConfig> {
  const config: VolumeConfig = { ...DEFAULT_VOLUME_CONFIG };
  for (const [name, value] of Object.entries(partial) as [keyof VolumeConfig, number | undefined][]) {
    if (value !== undefined) config[name] = value;
  }
  for (const [name, value] of Object.entries(config)) {
    if (!Number.isSafeInteger(value) || value < 0) invalid(`${name} must be a non-negative integer, got ${value}`);
  }
  const { targetObjectSizeBytes } = config;
  if (targetObjectSizeBytes < SECTOR_SIZE_BYTES || targetObjectSizeBytes % SECTOR_SIZE_BYTES !== 0) {
    invalid(`targetObjectSizeBytes must be a positive multiple of ${SECTOR_SIZE_BYTES}, got ${targetObjectSizeBytes}`);
  }
  if (targetObjectSizeBytes > TARGET_OBJECT_SIZE_MAX_BYTES) {
    invalid(`targetObjectSizeBytes must be at most ${TARGET_OBJECT_SIZE_MAX_BYTES}, got ${targetObjectSizeBytes}`);
  }
  // The open object alone must never reach the backpressure limit, or a write could wait
  // for an upload that cannot start.
  if (config.unuploadedBytesMax < 2 * (targetObjectSizeBytes + HEADER_SIZE_BYTES)) {
    invalid(`unuploadedBytesMax must be at least twice targetObjectSizeBytes plus a header, got ${config.unuploadedBytesMax}`);
  }
  if (config.uploadsInFlightMax < 1) invalid('uploadsInFlightMax must be at least 1');
  if (config.readsInFlightMax < 1) invalid('readsInFlightMax must be at least 1');
  if (config.idleSealMs < 1) invalid('idleSealMs must be at least 1');
  if (config.retryBaseDelayMs < 1 || config.retryMaxDelayMs < config.retryBaseDelayMs) {
    invalid('retryBaseDelayMs must be at least 1 and at most retryMaxDelayMs');
  }
  return Object.freeze(config);
}
