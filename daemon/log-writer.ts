/**
 * The write side of the engine in memory (DESIGN.md §3 write steps 1–3): the open object,
 * the sealed objects not yet uploaded, and the extent map updates that make every write
 * visible to reads at once. Everything here is synchronous, so a mutation and its map
 * update can never interleave with a read or another mutation.
 *
 * Sealing policy: a mutation that does not fit in the open object seals it first, so object
 * boundaries fall between requests (only a request larger than a whole object is split).
 */
import assert from 'node:assert/strict';
import { HEADER_SIZE_BYTES, SECTOR_SIZE_BYTES } from '../logformat/limits.js';
import { encodeZeroRanges } from '../logformat/zero-ranges.js';
import type { ExtentMap, MapRun } from './extent-map.js';
import { OPEN_OBJECT_ZERO_RANGES_MAX, OpenObject, type SectorWrite } from './open-object.js';
import type { SealedObject } from './uploader.js';

export interface SectorSpan {
  firstSector: number;
  endSector: number;
}

/** What one request changes: whole-sector writes and at most one range that becomes zeros. */
export interface Mutation {
  writes: SectorWrite[];
  zeroSpan?: SectorSpan | undefined;
}

export interface LogWriterOptions {
  map: ExtentMap;
  capacitySectors: number;
  /** The sequence the first open object gets. */
  firstSequence: number;
  /** Hands a sealed object to the uploader. */
  onSealed(object: SealedObject): void;
}

export class LogWriter {
  readonly #options: LogWriterOptions;
  readonly #sealed = new Map<number, SealedObject>();
  #open: OpenObject;
  #sealedBytes = 0;
  #sealedCount = 0;

  constructor(options: LogWriterOptions) {
    this.#options = options;
    this.#open = new OpenObject({ sequence: options.firstSequence, capacitySectors: options.capacitySectors });
  }

  get openSequence(): number {
    return this.#open.sequence;
  }

  get openIsEmpty(): boolean {
    return this.#open.isEmpty;
  }

  get openObjectBytes(): number {
    return this.#open.bufferedBytes;
  }

  get lastSealedSequence(): number {
    return this.#open.sequence - 1;
  }

  /** Objects sealed since this writer started. */
  get sealedCount(): number {
    return this.#sealedCount;
  }

  /** Acknowledged data not yet in the store: sealed objects in memory plus the open object. */
  get unuploadedBytes(): number {
    return this.#sealedBytes + this.#open.bufferedBytes;
  }

  apply(mutation: Mutation): void {
    if (!this.#open.isEmpty && !this.#fits(mutation)) this.seal();
    const { zeroSpan } = mutation;
    if (zeroSpan !== undefined && zeroSpan.endSector > zeroSpan.firstSector) {
      if (this.#open.zeroRangeCount >= OPEN_OBJECT_ZERO_RANGES_MAX) this.seal();
      const lengthSectors = zeroSpan.endSector - zeroSpan.firstSector;
      this.#open.addZeroRange(zeroSpan.firstSector, lengthSectors);
      this.#options.map.clear(zeroSpan.firstSector, lengthSectors);
    }
    for (const write of mutation.writes) this.#write(write);
    if (this.#open.isFull) this.seal();
  }

  /** Seals the open object unless it is empty; returns the sealed sequence. */
  seal(): number | undefined {
    const open = this.#open;
    if (open.isEmpty) return undefined;
    const layout = open.seal();
    for (const run of layout.runs) {
      this.#options.map.set({ volumeSector: run.volumeSector, lengthSectors: run.lengthSectors, sequence: layout.sequence, objectSector: run.objectSector });
    }
    const object: SealedObject = {
      sequence: layout.sequence,
      objectBytes: layout.objectBytes,
      zeroRangesBytes: layout.zeroRanges.length === 0 ? undefined : encodeZeroRanges(layout.zeroRanges),
    };
    this.#sealed.set(object.sequence, object);
    this.#sealedBytes += object.objectBytes.length;
    this.#sealedCount++;
    this.#open = new OpenObject({ sequence: open.sequence + 1, capacitySectors: open.capacitySectors, reuseBuffer: open.releaseBuffer() });
    this.#options.onSealed(object);
    return object.sequence;
  }

  /** The uploader stored it: its memory goes, reads now fetch from the store. */
  release(object: SealedObject): void {
    const deleted = this.#sealed.delete(object.sequence);
    assert(deleted, 'each object is released once');
    this.#sealedBytes -= object.objectBytes.length;
  }

  /** Copies a map run's data if it is still in memory; false when it must come from the store. */
  copyFromMemory(run: MapRun, target: Uint8Array, targetOffsetBytes: number): boolean {
    if (run.sequence === this.#open.sequence) {
      for (let index = 0; index < run.lengthSectors; index++) {
        this.#open.copySector(run.objectSector + index, target, targetOffsetBytes + index * SECTOR_SIZE_BYTES);
      }
      return true;
    }
    const sealed = this.#sealed.get(run.sequence);
    if (sealed === undefined) return false;
    const sourceOffsetBytes = HEADER_SIZE_BYTES + run.objectSector * SECTOR_SIZE_BYTES;
    target.set(sealed.objectBytes.subarray(sourceOffsetBytes, sourceOffsetBytes + run.lengthSectors * SECTOR_SIZE_BYTES), targetOffsetBytes);
    return true;
  }

  hasSealedInMemory(sequence: number): boolean {
    return this.#sealed.has(sequence);
  }

  /** A crash: every unuploaded byte is gone. */
  dropAll(): void {
    this.#sealed.clear();
    this.#sealedBytes = 0;
    this.#open = new OpenObject({ sequence: this.#open.sequence, capacitySectors: this.#open.capacitySectors });
  }

  #fits(mutation: Mutation): boolean {
    if (mutation.zeroSpan !== undefined && this.#open.zeroRangeCount >= OPEN_OBJECT_ZERO_RANGES_MAX) return false;
    // Writes of one mutation are disjoint; checking each alone may overestimate the entries
    // (two touching writes), which only seals a little early.
    let sectorsNeeded = 0;
    for (const write of mutation.writes) {
      if (!this.#open.fits(write.volumeSector, write.lengthSectors)) return false;
      sectorsNeeded += write.lengthSectors;
    }
    return mutation.writes.length <= 1 || this.#open.bufferedBytes / SECTOR_SIZE_BYTES + sectorsNeeded <= this.#open.capacitySectors;
  }

  #write(write: SectorWrite): void {
    let doneSectors = 0;
    while (doneSectors < write.lengthSectors) {
      const runs = this.#open.write({
        volumeSector: write.volumeSector + doneSectors,
        lengthSectors: write.lengthSectors - doneSectors,
        data: write.data,
        dataOffsetBytes: write.dataOffsetBytes + doneSectors * SECTOR_SIZE_BYTES,
      });
      for (const run of runs) {
        this.#options.map.set({ volumeSector: run.volumeSector, lengthSectors: run.lengthSectors, sequence: this.#open.sequence, objectSector: run.objectSector });
        doneSectors += run.lengthSectors;
      }
      if (doneSectors < write.lengthSectors) {
        const sealed = this.seal();
        assert(sealed !== undefined, 'an empty open object always takes at least one sector');
      }
    }
  }
}
