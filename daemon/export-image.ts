/**
 * Writing the image of an ExtentMap (DESIGN.md §3 "Read"): the map is walked in address
 * order, window by window; each window's mapped runs are fetched with ranged GETs (pieces of
 * one object close together in one GET, many GETs in parallel) into the window's buffer, and
 * windows are handed to the sink oldest first: a sparse file takes only the mapped bytes, a
 * stream takes every byte, zeros included, in order. Memory is bounded by the window buffers
 * held at once (EXPORT_IN_FLIGHT_BYTES_MAX).
 */
import assert from 'node:assert/strict';
import PQueue from 'p-queue';
import { formatLogKey } from '../logformat/keys.js';
import { HEADER_SIZE_BYTES, SECTOR_SIZE_BYTES } from '../logformat/limits.js';
import { type Sleeper, withRetries } from '../recovery/retry.js';
import type { ObjectStore } from '../store/object-store.js';
import { ExportError } from './export-errors.js';
import { HOLE_SEQUENCE, type ExtentMap, type MapRun } from './extent-map.js';
import { coalesce, type StorePiece } from './store-reader.js';

/** Volume address space looked up and written as one unit (8 MiB: one extent-map chunk). */
export const EXPORT_WINDOW_SECTORS = 2048;
/** An empty window doubles the next lookup, up to this (128 MiB), so sparse volumes are skipped quickly. */
export const EXPORT_SKIP_LOOKUP_MAX_SECTORS = 32_768;
/** Window buffers fetched or waiting to be written, in bytes: the export's memory bound. */
export const EXPORT_IN_FLIGHT_BYTES_MAX = 64 * 1024 * 1024;
/** Windows waiting to be written (a stream's runs of zeros cost no buffer, so they are counted too). */
export const EXPORT_WINDOWS_PENDING_MAX = 256;
/** Ranged GETs at once (each at most 1 MiB, READ_REQUEST_MAX_SECTORS), as the daemon's reads. */
export const EXPORT_GETS_IN_FLIGHT_MAX = 100;

assert(EXPORT_WINDOW_SECTORS * SECTOR_SIZE_BYTES <= EXPORT_IN_FLIGHT_BYTES_MAX, 'one window fits the in-flight budget');
assert(EXPORT_SKIP_LOOKUP_MAX_SECTORS >= EXPORT_WINDOW_SECTORS);

/** Bytes of the volume that hold data (mapped in the map): what an export fetches. */
export function mappedBytes(map: ExtentMap): number {
  let totalSectors = 0;
  map.forEachRun((run) => (totalSectors += run.lengthSectors));
  return totalSectors * SECTOR_SIZE_BYTES;
}

/** Where the image goes. */
export interface ImageSink {
  /**
   * true: every byte is written, in address order, with no gaps (zeros for holes): a stream.
   * false: only mapped bytes are written, in any order (the sink reads as zeros elsewhere): a sparse file.
   */
  readonly sequential: boolean;
  /** Resolves once the sink has taken `data`; `data` is not changed afterwards. */
  write(offsetBytes: number, data: Uint8Array): Promise<void>;
}

export interface ExportProgress {
  /** Mapped bytes fetched and written so far. */
  doneBytes: number;
  /** Mapped bytes in the whole image. */
  totalBytes: number;
}

export interface ExportImageOptions {
  store: ObjectStore;
  clock: Sleeper;
  map: ExtentMap;
  sink: ImageSink;
  onProgress?: (progress: ExportProgress) => void;
  /** Default EXPORT_IN_FLIGHT_BYTES_MAX (tests lower it). */
  inFlightBytesMax?: number;
}

export interface ExportResult {
  volumeSizeBytes: number;
  /** Bytes that held data and were fetched from the store. */
  mappedBytes: number;
  /** Bytes handed to the sink (the volume size for a sequential sink). */
  writtenBytes: number;
  getCount: number;
}

/** One contiguous mapped range of a window, and where its bytes sit in the window's buffer. */
interface Extent {
  offsetBytes: number;
  lengthBytes: number;
  bufferOffsetBytes: number;
}

interface Window {
  extents: Extent[];
  mappedBytes: number;
  /** Resolves with the window's buffer once every GET has landed in it. */
  filled: Promise<Uint8Array>;
  budgetBytes: number;
}

export async function exportImage(options: ExportImageOptions): Promise<ExportResult> {
  const run = new ImageExport(options);
  return run.run();
}

class ImageExport {
  readonly #options: ExportImageOptions;
  readonly #queue = new PQueue({ concurrency: EXPORT_GETS_IN_FLIGHT_MAX });
  readonly #inFlightBytesMax: number;
  readonly #totalBytes: number;
  readonly #zeros = new Uint8Array(EXPORT_WINDOW_SECTORS * SECTOR_SIZE_BYTES);
  readonly #pending: Window[] = [];
  #pendingBytes = 0;
  #doneBytes = 0;
  #writtenBytes = 0;
  #getCount = 0;
  #failure: Error | undefined;

  constructor(options: ExportImageOptions) {
    this.#options = options;
    this.#inFlightBytesMax = options.inFlightBytesMax ?? EXPORT_IN_FLIGHT_BYTES_MAX;
    assert(this.#inFlightBytesMax >= EXPORT_WINDOW_SECTORS * SECTOR_SIZE_BYTES, 'the budget holds at least one window');
    this.#totalBytes = mappedBytes(options.map);
  }

  async run(): Promise<ExportResult> {
    try {
      await this.#walk();
      while (this.#pending.length > 0) await this.#writeOldest();
    } catch (error) {
      // Stop queued GETs and let running ones settle before the caller closes the store.
      this.#failure ??= error instanceof Error ? error : new Error(String(error));
      await Promise.allSettled(this.#pending.map((window) => window.filled));
      throw error;
    }
    const { map } = this.#options;
    return { volumeSizeBytes: map.volumeSizeSectors * SECTOR_SIZE_BYTES, mappedBytes: this.#totalBytes, writtenBytes: this.#writtenBytes, getCount: this.#getCount };
  }

  /** Address order, window by window; an empty stretch is looked up in ever larger steps. */
  async #walk(): Promise<void> {
    const { map } = this.#options;
    const endSector = map.volumeSizeSectors;
    let lookupSectors = EXPORT_WINDOW_SECTORS;
    for (let sector = 0; sector < endSector; ) {
      const lengthSectors = Math.min(lookupSectors, endSector - sector);
      const runs = map.lookup(sector, lengthSectors).filter((run) => run.sequence !== HOLE_SEQUENCE);
      const firstRun = runs[0];
      if (firstRun === undefined) {
        await this.#holes(sector, lengthSectors);
        sector += lengthSectors;
        lookupSectors = Math.min(lookupSectors * 2, EXPORT_SKIP_LOOKUP_MAX_SECTORS);
        continue;
      }
      if (lengthSectors > EXPORT_WINDOW_SECTORS) {
        // A long lookup found data: go back to window steps, from the window holding it.
        const dataSector = sector + Math.floor((firstRun.volumeSector - sector) / EXPORT_WINDOW_SECTORS) * EXPORT_WINDOW_SECTORS;
        await this.#holes(sector, dataSector - sector);
        sector = dataSector;
        lookupSectors = EXPORT_WINDOW_SECTORS;
        continue;
      }
      await this.#startWindow({ sector, lengthSectors, runs });
      sector += lengthSectors;
    }
  }

  /** A stretch without data: a stream gets zeros (in order, after what is pending); a sparse file nothing. */
  async #holes(sector: number, lengthSectors: number): Promise<void> {
    if (!this.#options.sink.sequential) return;
    for (let offsetSectors = 0; offsetSectors < lengthSectors; offsetSectors += EXPORT_WINDOW_SECTORS) {
      const pieceSectors = Math.min(EXPORT_WINDOW_SECTORS, lengthSectors - offsetSectors);
      const lengthBytes = pieceSectors * SECTOR_SIZE_BYTES;
      const extent = { offsetBytes: (sector + offsetSectors) * SECTOR_SIZE_BYTES, lengthBytes, bufferOffsetBytes: 0 };
      await this.#enqueue({ extents: [extent], mappedBytes: 0, filled: Promise.resolve(this.#zeros.subarray(0, lengthBytes)), budgetBytes: 0 });
    }
  }

  async #startWindow(options: { sector: number; lengthSectors: number; runs: MapRun[] }): Promise<void> {
    const { sector, lengthSectors, runs } = options;
    const sequential = this.#options.sink.sequential;
    const windowOffsetBytes = sector * SECTOR_SIZE_BYTES;
    // A stream's window is every byte of it (holes stay zero); a sparse file's only its mapped runs, packed.
    const extents = sequential ? [{ offsetBytes: windowOffsetBytes, lengthBytes: lengthSectors * SECTOR_SIZE_BYTES, bufferOffsetBytes: 0 }] : packedExtents(runs);
    const bufferBytes = extents.reduce((sum, extent) => sum + extent.lengthBytes, 0);
    // Make room before allocating, so the buffers held never exceed the budget.
    while (this.#pending.length > 0 && this.#pendingBytes + bufferBytes > this.#inFlightBytesMax) await this.#writeOldest();
    const buffer = new Uint8Array(bufferBytes);
    let packedOffsetBytes = 0;
    const pieces = runs.map((run) => {
      const targetOffsetBytes = sequential ? run.volumeSector * SECTOR_SIZE_BYTES - windowOffsetBytes : packedOffsetBytes;
      packedOffsetBytes += run.lengthSectors * SECTOR_SIZE_BYTES;
      return { sequence: run.sequence, objectSector: run.objectSector, lengthSectors: run.lengthSectors, targetOffsetBytes };
    });
    const filled = this.#fill(pieces, buffer);
    filled.catch(() => {}); // awaited in order by #writeOldest; an early failure must not go unhandled
    await this.#enqueue({ extents, mappedBytes: packedOffsetBytes, filled, budgetBytes: bufferBytes });
  }

  /** Adds a window behind the others; past EXPORT_WINDOWS_PENDING_MAX the oldest is written first. */
  async #enqueue(window: Window): Promise<void> {
    while (this.#pending.length >= EXPORT_WINDOWS_PENDING_MAX) await this.#writeOldest();
    this.#pending.push(window);
    this.#pendingBytes += window.budgetBytes;
  }

  /** Fetches every piece into `buffer`, one GET per coalesced request, all queued at once. */
  async #fill(pieces: readonly StorePiece[], buffer: Uint8Array): Promise<Uint8Array> {
    const requests = coalesce(pieces);
    const fetchOne = async (request: (typeof requests)[number]): Promise<void> => {
      try {
        await this.#fetch(request, buffer);
      } catch (error) {
        this.#failure ??= error instanceof Error ? error : new Error(String(error));
        throw error;
      }
    };
    await Promise.all(requests.map((request) => this.#queue.add(() => fetchOne(request))));
    return buffer;
  }

  async #fetch(request: ReturnType<typeof coalesce>[number], buffer: Uint8Array): Promise<void> {
    // After a failure, queued GETs settle at once instead of running (p-queue's clear() would leave them pending).
    if (this.#failure !== undefined) throw this.#failure;
    const { store, clock } = this.#options;
    const objectKey = formatLogKey(request.sequence);
    const lengthBytes = (request.endSector - request.firstSector) * SECTOR_SIZE_BYTES;
    const range = { offsetBytes: HEADER_SIZE_BYTES + request.firstSector * SECTOR_SIZE_BYTES, lengthBytes };
    const bytes = await withRetries({ clock, what: 'read the data of', objectKey, run: () => store.get(objectKey, { range }) });
    this.#getCount++;
    if (bytes.byteLength !== lengthBytes) {
      // Recovery checked the listed size against the header; an object that changed since is corrupt.
      throw new ExportError('ERR_EXPORT_READ_FAILED', `Log object "${objectKey}" in ${store.description} is shorter than its header says: asked for ${lengthBytes} bytes at ${range.offsetBytes}, got ${bytes.byteLength}`, { objectKey });
    }
    for (const piece of request.pieces) {
      const sourceOffsetBytes = (piece.objectSector - request.firstSector) * SECTOR_SIZE_BYTES;
      buffer.set(bytes.subarray(sourceOffsetBytes, sourceOffsetBytes + piece.lengthSectors * SECTOR_SIZE_BYTES), piece.targetOffsetBytes);
    }
  }

  /** Writes the oldest pending window once its data is in: a stream needs address order anyway. */
  async #writeOldest(): Promise<void> {
    const window = this.#pending[0];
    assert(window !== undefined);
    const buffer = await window.filled;
    const { sink, onProgress } = this.#options;
    for (const extent of window.extents) {
      await sink.write(extent.offsetBytes, buffer.subarray(extent.bufferOffsetBytes, extent.bufferOffsetBytes + extent.lengthBytes));
      this.#writtenBytes += extent.lengthBytes;
    }
    this.#pending.shift();
    this.#pendingBytes -= window.budgetBytes;
    this.#doneBytes += window.mappedBytes;
    if (window.mappedBytes > 0) onProgress?.({ doneBytes: this.#doneBytes, totalBytes: this.#totalBytes });
  }
}

/** Mapped runs (address order) merged where they touch, packed back to back in a buffer. */
function packedExtents(runs: readonly MapRun[]): Extent[] {
  const extents: Extent[] = [];
  let bufferOffsetBytes = 0;
  for (const run of runs) {
    const offsetBytes = run.volumeSector * SECTOR_SIZE_BYTES;
    const lengthBytes = run.lengthSectors * SECTOR_SIZE_BYTES;
    const last = extents.at(-1);
    if (last !== undefined && last.offsetBytes + last.lengthBytes === offsetBytes) last.lengthBytes += lengthBytes;
    else extents.push({ offsetBytes, lengthBytes, bufferOffsetBytes });
    bufferOffsetBytes += lengthBytes;
  }
  return extents;
}
