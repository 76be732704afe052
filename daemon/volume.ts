/**
 * The log-structured volume (DESIGN.md §3): a BlockDevice whose writes go to the open
 * in-memory object and on to immutable log objects in the store.
 *
 * Lifecycle: `open` → `close()` (seal, upload everything, stop) or `abandon()` (a crash:
 * drop memory, start no new store request). Fencing (another writer, §6) settles `failure`;
 * from then on writes and flushes fail and nothing more is acknowledged; reads still work.
 */
import assert from 'node:assert/strict';
import type { Logger } from 'pino';
import { SECTOR_SIZE_BYTES } from '../logformat/limits.js';
import type { ObjectStore } from '../store/object-store.js';
import type { BlockDevice, BlockStatusExtent, WriteOptions, WriteZeroesOptions } from '../nbd/block-device.js';
import type { Clock, Random } from './clock.js';
import { VolumeError } from './errors.js';
import type { ExtentMap } from './extent-map.js';
import { LogWriter } from './log-writer.js';
import { ReadCache } from './read-cache.js';
import { SequentialDetector } from './sequential-detector.js';
import { StoreReader } from './store-reader.js';
import { Uploader } from './uploader.js';
import type { VolumeConfig } from './volume-config.js';
import { VolumeReads } from './volume-reads.js';
import { VolumeWrites } from './volume-writes.js';
import { IdleSealTimer } from './idle-seal-timer.js';

export interface VolumeOptions {
  store: ObjectStore;
  clock: Clock;
  random: Random;
  logger: Logger;
  config: Readonly<VolumeConfig>;
  map: ExtentMap;
  sizeBytes: number;
  /** The last log object already in the store (what recovery replayed). */
  lastSequence: number;
  /** From the volume descriptor, for logs and the writer lease. */
  volumeId?: string;
}

export interface VolumeStats {
  sizeBytes: number;
  unuploadedBytes: number;
  openObjectBytes: number;
  openSequence: number;
  lastSealedSequence: number;
  /** Every object 1..this is in the store. */
  lastUploadedSequence: number;
  objectsSealed: number;
  objectsUploaded: number;
  uploadsPending: number;
  uploadRetries: number;
  writesWaiting: number;
  mapBytes: number;
  mapExtents: number;
  cacheBytes: number;
  cacheHits: number;
  cacheMisses: number;
  storeGets: number;
  state: VolumeState;
}

export type VolumeState = 'open' | 'closing' | 'closed' | 'fenced' | 'abandoned';

export class Volume implements BlockDevice {
  readonly sizeBytes: number;
  readonly volumeId: string | undefined;
  readonly readOnly = false as const;
  /** Zeroing is a metadata operation (a zero range), never slower than writing zeros. */
  readonly canZeroFast = true;
  /** Settles with the error when the volume is fenced; the daemon then exits non-zero. */
  readonly failure: Promise<Error>;
  readonly #options: VolumeOptions;
  readonly #writer: LogWriter;
  readonly #uploader: Uploader;
  readonly #storeReader: StoreReader;
  readonly #cache: ReadCache;
  readonly #reads: VolumeReads;
  readonly #writes: VolumeWrites;
  readonly #idleTimer: IdleSealTimer;
  #resolveFailure: (error: Error) => void = () => {};
  #state: VolumeState = 'open';
  #stateError: VolumeError | undefined;
  #objectsUploaded = 0;
  #closing: Promise<void> | undefined;

  constructor(options: VolumeOptions) {
    assert(options.sizeBytes % SECTOR_SIZE_BYTES === 0);
    const { config } = options;
    this.#options = options;
    this.sizeBytes = options.sizeBytes;
    this.volumeId = options.volumeId;
    this.failure = new Promise((resolve) => (this.#resolveFailure = resolve));
    this.#uploader = new Uploader({
      ...options,
      uploadsInFlightMax: config.uploadsInFlightMax,
      retryBaseDelayMs: config.retryBaseDelayMs,
      retryMaxDelayMs: config.retryMaxDelayMs,
      uploadedThroughSequence: options.lastSequence,
      onUploaded: (object) => {
        this.#writer.release(object);
        this.#objectsUploaded++;
        this.#writes.wake();
      },
      onFenced: (error) => this.#fence(error),
    });
    this.#writer = new LogWriter({
      map: options.map,
      capacitySectors: config.targetObjectSizeBytes / SECTOR_SIZE_BYTES,
      firstSequence: options.lastSequence + 1,
      onSealed: (object) => this.#uploader.enqueue(object),
    });
    this.#cache = new ReadCache({ capacityBytes: config.readCacheBytes });
    this.#storeReader = new StoreReader({ ...options, ...config, cache: this.#cache });
    this.#reads = new VolumeReads({
      map: options.map,
      writer: this.#writer,
      storeReader: this.#storeReader,
      detector: new SequentialDetector({ windowMaxSectors: prefetchWindowMaxSectors(config.readCacheBytes) }),
      volumeSectors: options.sizeBytes / SECTOR_SIZE_BYTES,
    });
    this.#idleTimer = new IdleSealTimer({ clock: options.clock, idleSealMs: config.idleSealMs, target: this.#writer });
    this.#writes = new VolumeWrites({
      writer: this.#writer,
      reads: this.#reads,
      idleTimer: this.#idleTimer,
      unuploadedBytesMax: config.unuploadedBytesMax,
      checkWritable: () => this.#checkWritable(),
    });
  }

  get state(): VolumeState {
    return this.#state;
  }

  async read(offsetBytes: number, lengthBytes: number): Promise<Uint8Array> {
    this.#checkReadable();
    this.#checkRange(offsetBytes, lengthBytes);
    return this.#reads.read({ offsetBytes, lengthBytes, prefetch: true });
  }

  /** Reads straight into the caller's buffer when the range is whole sectors. */
  async readInto(offsetBytes: number, target: Uint8Array): Promise<void> {
    this.#checkReadable();
    this.#checkRange(offsetBytes, target.length);
    if (offsetBytes % SECTOR_SIZE_BYTES !== 0 || target.length % SECTOR_SIZE_BYTES !== 0) {
      target.set(await this.#reads.read({ offsetBytes, lengthBytes: target.length, prefetch: true }));
      return;
    }
    await this.#reads.readSectorsInto({ firstSector: offsetBytes / SECTOR_SIZE_BYTES, endSector: (offsetBytes + target.length) / SECTOR_SIZE_BYTES, target, targetOffsetBytes: 0, prefetch: true });
  }

  async write(offsetBytes: number, data: Uint8Array, options: WriteOptions): Promise<void> {
    this.#checkWritable();
    this.#checkRange(offsetBytes, data.length);
    if (data.length === 0) return;
    await this.#writes.write(offsetBytes, data);
    if (options.fua) await this.#makeDurable();
  }

  async trim(offsetBytes: number, lengthBytes: number, options: WriteOptions): Promise<void> {
    await this.#zero(offsetBytes, lengthBytes, options.fua);
  }

  /** NO_HOLE is honoured in what reads return; zeros are recorded as zero ranges either way. */
  async writeZeroes(offsetBytes: number, lengthBytes: number, options: WriteZeroesOptions): Promise<void> {
    await this.#zero(offsetBytes, lengthBytes, options.fua);
  }

  /** Every write acknowledged before this call is in the store, and every lower object too. */
  async flush(): Promise<void> {
    this.#checkWritable();
    this.#writer.seal();
    await this.#waitUploaded(this.#writer.lastSealedSequence);
  }

  async cache(offsetBytes: number, lengthBytes: number): Promise<void> {
    this.#checkReadable();
    this.#checkRange(offsetBytes, lengthBytes);
    this.#reads.prefetchRange({ offsetBytes, lengthBytes, maxBytes: this.#options.config.readCacheBytes });
  }

  async blockStatus(offsetBytes: number, lengthBytes: number): Promise<BlockStatusExtent[]> {
    this.#checkReadable();
    this.#checkRange(offsetBytes, lengthBytes);
    return this.#reads.blockStatus(offsetBytes, lengthBytes);
  }

  /** Seals, uploads everything, stops timers; later calls fail with ERR_VOLUME_CLOSED. */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    if (this.#state !== 'open') return Promise.reject(this.#stateError ?? new VolumeError('ERR_VOLUME_CLOSED', 'The volume is closed'));
    this.#state = 'closing';
    this.#closing = this.#closeAfterUploads();
    return this.#closing;
  }

  /** A crash: drops all memory, cancels timers and retries, starts no new store request. */
  abandon(): void {
    if (this.#state === 'abandoned') return;
    this.#stop('abandoned', new VolumeError('ERR_VOLUME_ABANDONED', 'The volume was abandoned'));
    this.#writer.dropAll();
    this.#cache.clear();
  }

  stats(): VolumeStats {
    const { map } = this.#options;
    return {
      sizeBytes: this.sizeBytes,
      unuploadedBytes: this.#writer.unuploadedBytes,
      openObjectBytes: this.#writer.openObjectBytes,
      openSequence: this.#writer.openSequence,
      lastSealedSequence: this.#writer.lastSealedSequence,
      lastUploadedSequence: this.#uploader.uploadedThroughSequence,
      objectsSealed: this.#writer.sealedCount,
      objectsUploaded: this.#objectsUploaded,
      uploadsPending: this.#uploader.pendingCount,
      uploadRetries: this.#uploader.retryCount,
      writesWaiting: this.#writes.waitingCount,
      mapBytes: map.memoryUsageBytes(),
      mapExtents: map.extentCount,
      cacheBytes: this.#cache.sizeBytes,
      cacheHits: this.#cache.hitCount,
      cacheMisses: this.#cache.missCount,
      storeGets: this.#storeReader.getCount,
      state: this.#state,
    };
  }

  async #closeAfterUploads(): Promise<void> {
    this.#idleTimer.cancel();
    this.#writer.seal();
    await this.#waitUploaded(this.#writer.lastSealedSequence);
    this.#stop('closed', new VolumeError('ERR_VOLUME_CLOSED', 'The volume is closed'));
    this.#options.logger.info({ lastSequence: this.#writer.lastSealedSequence }, `Volume closed; every write is stored (through log object ${this.#writer.lastSealedSequence}).`);
  }

  /** FUA: the object holding this write, and every lower one, is in the store. */
  async #zero(offsetBytes: number, lengthBytes: number, fua: boolean): Promise<void> {
    this.#checkWritable();
    this.#checkRange(offsetBytes, lengthBytes);
    if (lengthBytes === 0) return;
    await this.#writes.zero(offsetBytes, lengthBytes);
    if (fua) await this.#makeDurable();
  }

  async #makeDurable(): Promise<void> {
    this.#writer.seal();
    await this.#waitUploaded(this.#writer.lastSealedSequence);
  }

  async #waitUploaded(sequence: number): Promise<void> {
    if (sequence <= this.#uploader.uploadedThroughSequence) return;
    await this.#uploader.waitForUploaded(sequence);
  }

  #fence(error: VolumeError): void {
    this.#options.logger.fatal({ err: error, code: error.code }, error.message);
    this.#stop('fenced', error);
    this.#resolveFailure(error);
  }

  #stop(state: VolumeState, error: VolumeError): void {
    if (this.#state === 'fenced' && state !== 'abandoned') return;
    this.#state = state;
    this.#stateError = error;
    this.#idleTimer.cancel();
    this.#uploader.stop(error);
    // A fenced volume still serves reads (its data is intact); it only stops writing.
    if (state !== 'fenced') this.#storeReader.stop(error);
    this.#writes.stop();
  }

  #checkWritable(): void {
    if (this.#state !== 'open') throw this.#stateError ?? new VolumeError('ERR_VOLUME_CLOSED', 'The volume is closing');
  }

  #checkReadable(): void {
    if (this.#state === 'closed' || this.#state === 'abandoned') throw this.#stateError ?? new VolumeError('ERR_VOLUME_CLOSED', 'The volume is closed');
  }

  #checkRange(offsetBytes: number, lengthBytes: number): void {
    assert(Number.isSafeInteger(offsetBytes) && Number.isSafeInteger(lengthBytes) && offsetBytes >= 0 && lengthBytes >= 0, 'the NBD server validates requests');
    assert(offsetBytes + lengthBytes <= this.sizeBytes, 'the NBD server keeps requests inside the volume');
  }
}

/** Prefetch at most half the cache ahead, and at most 32 MiB (8,192 sectors). */
function prefetchWindowMaxSectors(readCacheBytes: number): number {
  return Math.min(8192, Math.floor(readCacheBytes / 2 / SECTOR_SIZE_BYTES));
}
