/**
 * The extent map: for every sector of the volume, which log object holds its newest data
 * (DESIGN.md §3 "Read", §4 "Memory").
 *
 * Design. The volume is cut into chunks of 2,048 sectors (8 MiB); chunks are grouped into pages
 * of 1,024 chunks (8 GiB), so an untouched 8 GiB costs one empty slot and a TRIM or a lookup
 * over empty space skips whole pages. A chunk that holds data is one of two forms:
 * - an extent list (`extent-map-extents.ts`): sorted, maximal, packed extents of 12 bytes
 *   (start u16 + length u16, sequence u32, objectSector u32) in one Uint32Array that grows by a
 *   quarter at a time. Sequential data is one extent per 8 MiB object.
 * - a dense chunk (`extent-map-dense.ts`): one sequence and one object sector per sector, each
 *   in a column that is 16 bits wide (relative to a per-column bias) while the chunk's values
 *   span fewer than 2^16 numbers, 32 bits otherwise: 4, 6 or 8 bytes per sector.
 * A list becomes dense when its allocation outgrows what the dense arrays for its values would
 * take; a dense chunk becomes a list again once the list would take at most half the dense
 * size (hysteresis), e.g. after a long sequential overwrite. A chunk left with only holes is
 * dropped; a write or clear covering a whole chunk replaces or drops it without looking inside.
 * Volume sectors are plain numbers (up to 2^53 / 4,096): only in-chunk offsets are 16-bit.
 *
 * Costs. A 4 KiB set or lookup: one binary search plus one shift of a list of at most ~1,700
 * extents, or O(1) work in a dense chunk. A clear: O(pages + chunks it touches), never
 * O(sectors). Memory (worst case, every sector its own extent): 4 bytes per 4 KiB sector when
 * each chunk's sequences span fewer than 65,536 objects, 6 when they span more, 8 only when its
 * object sectors also span 65,536 or more (objects over 256 MiB, which only other tools write).
 * That is 1, 1.5 or 2 MiB per GiB, plus 64 KiB per GiB of per-chunk objects.
 *
 * Measured (`node --import tsx --expose-gc scripts/measure-extent-map.ts`, 4 GiB volume, Node 20,
 * 2 shared cores; per GiB of volume; memoryUsageBytes() / heap delta after gc):
 *   (a) 4 KiB random writes over every sector, a new object every 1,024 writes:
 *       1.07 / 1.02 MiB; set 180k-390k ops/s, 4 KiB lookup 450k-900k ops/s.
 *   (b) sequential fill in 8 MiB objects: 0.032 / 0.037 MiB (one extent per chunk);
 *       set 510k-550k ops/s, lookup 1.0M-1.2M ops/s.
 *   (c) 4 KiB random writes over every sector, each its own object (the worst case):
 *       1.57 / 1.57 MiB; set 320k-340k ops/s, lookup 550k-930k ops/s.
 * The ranges are several runs on a loaded machine.
 */
import assert from 'node:assert/strict';
import {
  ARRAY_SLOT_BYTES,
  CHUNKS_PER_PAGE,
  CHUNK_SIZE_SECTORS,
  OBJECT_OVERHEAD_BYTES,
  PAGE_SIZE_SECTORS,
  U32_MAX,
  type Chunk,
  type MapRun,
} from './extent-map-chunk.js';
import { DenseChunk } from './extent-map-dense.js';
import { ExtentChunk } from './extent-map-extents.js';
import { RunCollector } from './extent-map-runs.js';
import { SECTOR_SIZE_BYTES, VOLUME_SIZE_MAX_BYTES } from '../logformat/limits.js';

export { HOLE_SEQUENCE, CHUNK_SIZE_SECTORS } from './extent-map-chunk.js';
export type { MapRun } from './extent-map-chunk.js';

/** The largest sequence and object sector the map stores (u32). */
export const EXTENT_MAP_SEQUENCE_MAX = U32_MAX;
export const EXTENT_MAP_OBJECT_SECTOR_MAX = U32_MAX;

export interface ExtentMapOptions {
  volumeSizeBytes: number;
}

export interface SetOptions {
  volumeSector: number;
  lengthSectors: number;
  sequence: number;
  objectSector: number;
}

class Page {
  readonly chunks: (Chunk | undefined)[] = new Array<Chunk | undefined>(CHUNKS_PER_PAGE).fill(undefined);
  chunkCount = 0;
}

export class ExtentMap {
  #volumeSizeSectors = 0;
  #pages: (Page | undefined)[] = [];
  #extentCount = 0;
  #chunkCount = 0;
  #denseChunkCount = 0;

  constructor(options: ExtentMapOptions) {
    this.grow(options.volumeSizeBytes);
  }

  get volumeSizeSectors(): number {
    return this.#volumeSizeSectors;
  }

  /** Stored extents: a run that crosses chunk boundaries counts once per chunk. */
  get extentCount(): number {
    return this.#extentCount;
  }

  /** Chunks holding data, and how many of them are dense (for metrics and tests). */
  get chunkCount(): number {
    return this.#chunkCount;
  }

  get denseChunkCount(): number {
    return this.#denseChunkCount;
  }

  set(options: SetOptions): void {
    const { volumeSector, lengthSectors, sequence, objectSector } = options;
    this.#assertRange(volumeSector, lengthSectors);
    assert(lengthSectors >= 1, 'a write maps at least one sector');
    assert(Number.isInteger(sequence) && sequence >= 1 && sequence <= EXTENT_MAP_SEQUENCE_MAX, `sequence ${sequence} is not a u32 >= 1`);
    assert(Number.isInteger(objectSector) && objectSector >= 0, `objectSector ${objectSector} is not a whole number`);
    assert(objectSector + lengthSectors - 1 <= EXTENT_MAP_OBJECT_SECTOR_MAX, 'the run ends past the largest object sector');
    const endSector = volumeSector + lengthSectors;
    for (let sector = volumeSector; sector < endSector; ) {
      const chunkIndex = Math.floor(sector / CHUNK_SIZE_SECTORS);
      const startSector = sector - chunkIndex * CHUNK_SIZE_SECTORS;
      const pieceSectors = Math.min(endSector - sector, CHUNK_SIZE_SECTORS - startSector);
      const placement = { startSector, lengthSectors: pieceSectors, sequence, objectSector: objectSector + (sector - volumeSector) };
      if (pieceSectors === CHUNK_SIZE_SECTORS) {
        const chunk = ExtentChunk.empty();
        chunk.set(placement);
        this.#replaceChunk(chunkIndex, chunk);
      } else {
        const chunk = this.#chunkAt(chunkIndex) ?? this.#replaceChunk(chunkIndex, ExtentChunk.empty());
        const runCountBefore = chunk.runCount;
        chunk.set(placement);
        this.#settle(chunkIndex, chunk, runCountBefore);
      }
      sector += pieceSectors;
    }
  }

  /** The range becomes a hole (reads as zeros). O(pages + touched chunks), whatever its length. */
  clear(volumeSector: number, lengthSectors: number): void {
    this.#assertRange(volumeSector, lengthSectors);
    this.#forEachChunkIn(volumeSector, lengthSectors, (chunkIndex, chunk, fromSector, toSector) => {
      if (toSector - fromSector === CHUNK_SIZE_SECTORS) {
        this.#replaceChunk(chunkIndex, undefined);
        return;
      }
      const runCountBefore = chunk.runCount;
      chunk.clear(fromSector, toSector);
      this.#settle(chunkIndex, chunk, runCountBefore);
    });
  }

  /**
   * Runs covering exactly the range, in order; neighbouring runs that continue the same object
   * contiguously are merged, as are neighbouring holes.
   */
  lookup(volumeSector: number, lengthSectors: number): MapRun[] {
    this.#assertRange(volumeSector, lengthSectors);
    const runs: MapRun[] = [];
    const collector = new RunCollector({ fromSector: volumeSector, includeHoles: true, emit: (run) => runs.push(run) });
    this.#forEachChunkIn(volumeSector, lengthSectors, (chunkIndex, chunk, fromSector, toSector) => {
      chunk.visitRuns({ chunkStartSector: chunkIndex * CHUNK_SIZE_SECTORS, fromSector, toSector, sink: collector });
    });
    collector.finish(volumeSector + lengthSectors);
    return runs;
  }

  /**
   * Visit every mapped (non-hole) run in address order (for checkpoints, GC, export later),
   * merged as lookup merges them. Each run object is the visitor's to keep; the map must not
   * change during the visit.
   */
  forEachRun(visit: (run: MapRun) => void): void {
    const collector = new RunCollector({ fromSector: 0, includeHoles: false, emit: visit });
    this.#forEachChunkIn(0, this.#volumeSizeSectors, (chunkIndex, chunk, fromSector, toSector) => {
      chunk.visitRuns({ chunkStartSector: chunkIndex * CHUNK_SIZE_SECTORS, fromSector, toSector, sink: collector });
    });
    collector.finish(this.#volumeSizeSectors);
  }

  /** Makes the volume larger; shrinking is refused by the caller before it gets here. */
  grow(volumeSizeBytes: number): void {
    assert(Number.isSafeInteger(volumeSizeBytes) && volumeSizeBytes % SECTOR_SIZE_BYTES === 0, `volume size ${volumeSizeBytes} is not whole sectors`);
    assert(volumeSizeBytes <= VOLUME_SIZE_MAX_BYTES, `volume size ${volumeSizeBytes} is over the limit`);
    const volumeSizeSectors = volumeSizeBytes / SECTOR_SIZE_BYTES;
    assert(volumeSizeSectors >= this.#volumeSizeSectors, 'the extent map only grows');
    this.#volumeSizeSectors = volumeSizeSectors;
    const pageCount = Math.ceil(volumeSizeSectors / PAGE_SIZE_SECTORS);
    while (this.#pages.length < pageCount) this.#pages.push(undefined);
  }

  /** Bytes held by the map's structures: typed arrays plus a fixed estimate per JS object. */
  memoryUsageBytes(): number {
    let totalBytes = OBJECT_OVERHEAD_BYTES + this.#pages.length * ARRAY_SLOT_BYTES;
    for (const page of this.#pages) {
      if (page === undefined) continue;
      totalBytes += 2 * OBJECT_OVERHEAD_BYTES + CHUNKS_PER_PAGE * ARRAY_SLOT_BYTES;
      for (const chunk of page.chunks) totalBytes += chunk?.memoryUsageBytes() ?? 0;
    }
    return totalBytes;
  }

  #assertRange(volumeSector: number, lengthSectors: number): void {
    assert(Number.isSafeInteger(volumeSector) && volumeSector >= 0, `volumeSector ${volumeSector} is not a whole number`);
    assert(Number.isSafeInteger(lengthSectors) && lengthSectors >= 0, `lengthSectors ${lengthSectors} is not a whole number`);
    assert(volumeSector + lengthSectors <= this.#volumeSizeSectors, `sectors ${volumeSector}+${lengthSectors} run past the volume end`);
  }

  /** Calls `visit` for each chunk holding data in the range, with the chunk-relative part of the range. */
  #forEachChunkIn(
    volumeSector: number,
    lengthSectors: number,
    visit: (chunkIndex: number, chunk: Chunk, fromSector: number, toSector: number) => void,
  ): void {
    const endSector = volumeSector + lengthSectors;
    for (let sector = volumeSector; sector < endSector; ) {
      const pageIndex = Math.floor(sector / PAGE_SIZE_SECTORS);
      if (this.#pages[pageIndex] === undefined) {
        sector = Math.min(endSector, (pageIndex + 1) * PAGE_SIZE_SECTORS);
        continue;
      }
      const chunkIndex = Math.floor(sector / CHUNK_SIZE_SECTORS);
      const chunkStartSector = chunkIndex * CHUNK_SIZE_SECTORS;
      const toSector = Math.min(endSector - chunkStartSector, CHUNK_SIZE_SECTORS);
      const chunk = this.#chunkAt(chunkIndex);
      if (chunk !== undefined) visit(chunkIndex, chunk, sector - chunkStartSector, toSector);
      sector = chunkStartSector + toSector;
    }
  }

  #chunkAt(chunkIndex: number): Chunk | undefined {
    return this.#pages[Math.floor(chunkIndex / CHUNKS_PER_PAGE)]?.chunks[chunkIndex % CHUNKS_PER_PAGE];
  }

  /** After a partial set or clear: count its runs, drop it when empty, switch its form when smaller. */
  #settle(chunkIndex: number, chunk: Chunk, runCountBefore: number): void {
    this.#extentCount += chunk.runCount - runCountBefore;
    if (chunk.runCount === 0) {
      this.#replaceChunk(chunkIndex, undefined);
    } else if (chunk.prefersOtherForm()) {
      this.#replaceChunk(chunkIndex, chunk.kind === 'extents' ? DenseChunk.fromChunk(chunk) : ExtentChunk.fromChunk(chunk));
    }
  }

  /** Puts `chunk` (or nothing) in the slot, keeping the counters and the page's lifetime right. */
  #replaceChunk<T extends Chunk | undefined>(chunkIndex: number, chunk: T): T {
    const pageIndex = Math.floor(chunkIndex / CHUNKS_PER_PAGE);
    const page = this.#pages[pageIndex] ?? new Page();
    const slotIndex = chunkIndex % CHUNKS_PER_PAGE;
    const previous = page.chunks[slotIndex];
    this.#count(previous, -1);
    this.#count(chunk, +1);
    page.chunks[slotIndex] = chunk;
    page.chunkCount += (chunk === undefined ? 0 : 1) - (previous === undefined ? 0 : 1);
    this.#pages[pageIndex] = page.chunkCount === 0 ? undefined : page;
    return chunk;
  }

  #count(chunk: Chunk | undefined, sign: 1 | -1): void {
    if (chunk === undefined) return;
    this.#extentCount += sign * chunk.runCount;
    this.#chunkCount += sign;
    if (chunk.kind === 'dense') this.#denseChunkCount += sign;
  }
}
