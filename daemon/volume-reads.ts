/**
 * The read side of the volume (DESIGN.md §3 "Read"): look the range up in the extent map;
 * holes are zeros with no request; data of the open object and of objects not yet uploaded
 * comes from memory (synchronously, in the same step as the lookup, so it cannot move
 * underneath); the rest comes from the StoreReader (cache, in-flight prefetch, ranged GETs).
 */
import assert from 'node:assert/strict';
import { SECTOR_SIZE_BYTES } from '../logformat/limits.js';
import type { BlockStatusExtent } from '../nbd/block-device.js';
import { type ExtentMap, HOLE_SEQUENCE } from './extent-map.js';
import type { LogWriter, SectorSpan } from './log-writer.js';
import type { SectorWrite } from './open-object.js';
import type { SequentialDetector } from './sequential-detector.js';
import type { StorePiece, StoreReader } from './store-reader.js';

/** One blockStatus reply looks this far at most (1 GiB); the client asks again for the rest. */
export const BLOCK_STATUS_LOOKUP_MAX_SECTORS = 262_144;
/** ...and returns at most this many extents. */
export const BLOCK_STATUS_EXTENTS_MAX = 1024;

export interface VolumeReadsOptions {
  map: ExtentMap;
  writer: LogWriter;
  storeReader: StoreReader;
  detector: SequentialDetector;
  volumeSectors: number;
}

export class VolumeReads {
  readonly #options: VolumeReadsOptions;

  constructor(options: VolumeReadsOptions) {
    this.#options = options;
  }

  async read(request: { offsetBytes: number; lengthBytes: number; prefetch: boolean }): Promise<Uint8Array> {
    if (request.lengthBytes === 0) return new Uint8Array(0);
    const firstSector = Math.floor(request.offsetBytes / SECTOR_SIZE_BYTES);
    const endSector = Math.ceil((request.offsetBytes + request.lengthBytes) / SECTOR_SIZE_BYTES);
    const sectors = new Uint8Array((endSector - firstSector) * SECTOR_SIZE_BYTES);
    await this.readSectorsInto({ firstSector, endSector, target: sectors, targetOffsetBytes: 0, prefetch: request.prefetch });
    const skipBytes = request.offsetBytes - firstSector * SECTOR_SIZE_BYTES;
    return skipBytes === 0 && sectors.length === request.lengthBytes ? sectors : sectors.subarray(skipBytes, skipBytes + request.lengthBytes);
  }

  /**
   * Fills `target` with the sectors of `span`; memory copies happen before the first await.
   * With `prefetch`, the read also feeds sequential detection (reads of the engine's own,
   * such as read-modify-write, do not).
   */
  readSectorsInto(request: SectorSpan & { target: Uint8Array; targetOffsetBytes: number; prefetch?: boolean }): Promise<void> {
    const { map, writer, storeReader } = this.#options;
    const pieces: StorePiece[] = [];
    let offsetBytes = request.targetOffsetBytes;
    for (const run of map.lookup(request.firstSector, request.endSector - request.firstSector)) {
      // The target may be a reused buffer (the NBD server pools them): holes are written as zeros.
      if (run.sequence === HOLE_SEQUENCE) request.target.fill(0, offsetBytes, offsetBytes + run.lengthSectors * SECTOR_SIZE_BYTES);
      else if (!writer.copyFromMemory(run, request.target, offsetBytes)) {
        pieces.push({ sequence: run.sequence, objectSector: run.objectSector, lengthSectors: run.lengthSectors, targetOffsetBytes: offsetBytes });
      }
      offsetBytes += run.lengthSectors * SECTOR_SIZE_BYTES;
    }
    assert.equal(offsetBytes - request.targetOffsetBytes, (request.endSector - request.firstSector) * SECTOR_SIZE_BYTES, 'the map covers the range exactly');
    if (request.prefetch === true) this.#prefetchAfter(request);
    return pieces.length === 0 ? Promise.resolve() : storeReader.read(pieces, request.target);
  }

  /** The sectors of `span` as a buffer whose partial first and last sectors hold their current data. */
  async readEdges(span: SectorSpan, offsetBytes: number, lengthBytes: number): Promise<Uint8Array> {
    const merged = new Uint8Array((span.endSector - span.firstSector) * SECTOR_SIZE_BYTES);
    const reads: Promise<void>[] = [];
    const headPartial = offsetBytes % SECTOR_SIZE_BYTES !== 0;
    const tailPartial = (offsetBytes + lengthBytes) % SECTOR_SIZE_BYTES !== 0;
    if (headPartial) reads.push(this.readSectorsInto({ firstSector: span.firstSector, endSector: span.firstSector + 1, target: merged, targetOffsetBytes: 0 }));
    if (tailPartial && !(headPartial && span.endSector - span.firstSector === 1)) {
      const tailOffsetBytes = merged.length - SECTOR_SIZE_BYTES;
      reads.push(this.readSectorsInto({ firstSector: span.endSector - 1, endSector: span.endSector, target: merged, targetOffsetBytes: tailOffsetBytes }));
    }
    await Promise.all(reads);
    return merged;
  }

  /** For zeroing [offsetBytes, endBytes): rewrites of the partial sectors at its ends. */
  async readPartialSectors(request: { span: SectorSpan; offsetBytes: number; endBytes: number }): Promise<SectorWrite[]> {
    const edgeSectors: number[] = [];
    if (request.offsetBytes % SECTOR_SIZE_BYTES !== 0) edgeSectors.push(request.span.firstSector);
    if (request.endBytes % SECTOR_SIZE_BYTES !== 0 && !edgeSectors.includes(request.span.endSector - 1)) edgeSectors.push(request.span.endSector - 1);
    return Promise.all(
      edgeSectors.map(async (sector) => {
        const data = new Uint8Array(SECTOR_SIZE_BYTES);
        await this.readSectorsInto({ firstSector: sector, endSector: sector + 1, target: data, targetOffsetBytes: 0 });
        const sectorStartBytes = sector * SECTOR_SIZE_BYTES;
        const zeroFromBytes = Math.max(request.offsetBytes, sectorStartBytes) - sectorStartBytes;
        const zeroToBytes = Math.min(request.endBytes, sectorStartBytes + SECTOR_SIZE_BYTES) - sectorStartBytes;
        data.fill(0, zeroFromBytes, zeroToBytes);
        return { volumeSector: sector, lengthSectors: 1, data, dataOffsetBytes: 0 };
      }),
    );
  }

  /** NBD CACHE: bring up to `maxBytes` of the range into the cache, without waiting. */
  prefetchRange(request: { offsetBytes: number; lengthBytes: number; maxBytes: number }): void {
    const firstSector = Math.floor(request.offsetBytes / SECTOR_SIZE_BYTES);
    const endSector = Math.min(Math.ceil((request.offsetBytes + request.lengthBytes) / SECTOR_SIZE_BYTES), firstSector + Math.floor(request.maxBytes / SECTOR_SIZE_BYTES));
    if (endSector > firstSector) this.#prefetch({ firstSector, endSector });
  }

  /** `base:allocation`: holes (never written or zeroed) versus data, from the map alone. */
  blockStatus(offsetBytes: number, lengthBytes: number): BlockStatusExtent[] {
    assert(lengthBytes > 0, 'the NBD server asks about at least one byte');
    const firstSector = Math.floor(offsetBytes / SECTOR_SIZE_BYTES);
    const endSector = Math.min(Math.ceil((offsetBytes + lengthBytes) / SECTOR_SIZE_BYTES), firstSector + BLOCK_STATUS_LOOKUP_MAX_SECTORS);
    const extents: BlockStatusExtent[] = [];
    let positionBytes = offsetBytes;
    const requestEndBytes = offsetBytes + lengthBytes;
    let runStartSector = firstSector;
    for (const run of this.#options.map.lookup(firstSector, endSector - firstSector)) {
      const runEndBytes = Math.min((runStartSector + run.lengthSectors) * SECTOR_SIZE_BYTES, requestEndBytes);
      runStartSector += run.lengthSectors;
      const hole = run.sequence === HOLE_SEQUENCE;
      const lengthThisBytes = runEndBytes - positionBytes;
      positionBytes = runEndBytes;
      const last = extents.at(-1);
      if (last !== undefined && last.hole === hole) last.lengthBytes += lengthThisBytes;
      else if (extents.length === BLOCK_STATUS_EXTENTS_MAX) break;
      else extents.push({ lengthBytes: lengthThisBytes, hole, zero: hole });
    }
    return extents;
  }

  #prefetchAfter(span: SectorSpan): void {
    const ahead = this.#options.detector.observe(span);
    if (ahead === undefined) return;
    this.#prefetch({ firstSector: ahead.firstSector, endSector: Math.min(ahead.endSector, this.#options.volumeSectors) });
  }

  #prefetch(span: SectorSpan): void {
    if (span.endSector <= span.firstSector) return;
    const pieces: StorePiece[] = [];
    let volumeSector = span.firstSector;
    for (const run of this.#options.map.lookup(span.firstSector, span.endSector - span.firstSector)) {
      const inMemory = run.sequence === this.#options.writer.openSequence || this.#options.writer.hasSealedInMemory(run.sequence);
      if (run.sequence !== HOLE_SEQUENCE && !inMemory) pieces.push({ sequence: run.sequence, objectSector: run.objectSector, lengthSectors: run.lengthSectors, targetOffsetBytes: 0 });
      volumeSector += run.lengthSectors;
    }
    assert.equal(volumeSector, span.endSector);
    this.#options.storeReader.prefetch(pieces);
  }
}
