import assert from 'node:assert/strict';
import {
  CHUNK_SIZE_SECTORS,
  DENSE_TO_EXTENTS_FRACTION,
  EXTENT_SIZE_BYTES,
  HOLE_SEQUENCE,
  OBJECT_OVERHEAD_BYTES,
  TYPED_ARRAY_OVERHEAD_BYTES,
  chunkValueRanges,
  type Chunk,
  type Placement,
  type VisitOptions,
} from './extent-map-chunk.js';
import { PackedColumn } from './extent-map-column.js';

/**
 * A chunk with one entry per sector: a sequence column (0 = hole) and an object-sector column.
 * Used once a chunk is fragmented enough that this is smaller than its extent list. A write
 * costs O(its length); the number of maximal runs is kept up to date incrementally by
 * recounting run starts in the touched window only.
 */
export class DenseChunk implements Chunk {
  readonly kind = 'dense' as const;
  readonly #sequences: PackedColumn;
  readonly #objectSectors: PackedColumn;
  #runCount = 0;

  private constructor(sequences: PackedColumn, objectSectors: PackedColumn) {
    this.#sequences = sequences;
    this.#objectSectors = objectSectors;
  }

  /** The same runs as `source`, with columns as narrow as its values allow. */
  static fromChunk(source: Chunk): DenseChunk {
    const ranges = chunkValueRanges(source);
    const chunk = new DenseChunk(
      PackedColumn.forRange(CHUNK_SIZE_SECTORS, ranges.sequence),
      PackedColumn.forRange(CHUNK_SIZE_SECTORS, ranges.objectSector),
    );
    source.visitRuns({
      chunkStartSector: 0,
      fromSector: 0,
      toSector: CHUNK_SIZE_SECTORS,
      sink: {
        add: (run) => {
          chunk.#fill({ ...run, startSector: run.volumeSector });
        },
      },
    });
    chunk.#runCount = chunk.#countRunStarts(0, CHUNK_SIZE_SECTORS);
    assert.equal(chunk.#runCount, source.runCount, 'a chunk holds maximal runs only');
    return chunk;
  }

  get runCount(): number {
    return this.#runCount;
  }

  /** True when the sequence or object-sector column needs 32 bits per sector. */
  get wide(): boolean {
    return this.#sequences.wide || this.#objectSectors.wide;
  }

  set(placement: Placement): void {
    const { startSector, lengthSectors } = placement;
    const windowEndSector = Math.min(startSector + lengthSectors + 1, CHUNK_SIZE_SECTORS);
    const startsBefore = this.#countRunStarts(startSector, windowEndSector);
    this.#sequences.ensureFits(placement.sequence, placement.sequence);
    this.#objectSectors.ensureFits(placement.objectSector, placement.objectSector + lengthSectors - 1);
    this.#fill(placement);
    this.#runCount += this.#countRunStarts(startSector, windowEndSector) - startsBefore;
  }

  clear(fromSector: number, toSector: number): void {
    const windowEndSector = Math.min(toSector + 1, CHUNK_SIZE_SECTORS);
    const startsBefore = this.#countRunStarts(fromSector, windowEndSector);
    // Zeroed object sectors keep the column's value range tight (zero is always representable).
    for (let sector = fromSector; sector < toSector; sector++) {
      this.#sequences.put(sector, HOLE_SEQUENCE);
      this.#objectSectors.put(sector, 0);
    }
    this.#runCount += this.#countRunStarts(fromSector, windowEndSector) - startsBefore;
  }

  visitRuns(options: VisitOptions): void {
    const { chunkStartSector, toSector, sink } = options;
    let sector = options.fromSector;
    while (sector < toSector) {
      const sequence = this.#sequences.get(sector);
      if (sequence === HOLE_SEQUENCE) {
        sector++;
        continue;
      }
      const objectSector = this.#objectSectors.get(sector);
      let endSector = sector + 1;
      while (endSector < toSector && this.#continues(endSector)) endSector++;
      sink.add({ volumeSector: chunkStartSector + sector, lengthSectors: endSector - sector, sequence, objectSector });
      sector = endSector;
    }
  }

  prefersOtherForm(): boolean {
    return this.#runCount * EXTENT_SIZE_BYTES <= this.#columnBytes() * DENSE_TO_EXTENTS_FRACTION;
  }

  memoryUsageBytes(): number {
    return 3 * OBJECT_OVERHEAD_BYTES + 2 * TYPED_ARRAY_OVERHEAD_BYTES + this.#columnBytes();
  }

  #columnBytes(): number {
    return this.#sequences.byteLength + this.#objectSectors.byteLength;
  }

  #fill(placement: Placement): void {
    const { startSector, lengthSectors, sequence, objectSector } = placement;
    for (let offsetSectors = 0; offsetSectors < lengthSectors; offsetSectors++) {
      this.#sequences.put(startSector + offsetSectors, sequence);
      this.#objectSectors.put(startSector + offsetSectors, objectSector + offsetSectors);
    }
  }

  /** Whether `sector` is mapped and carries on the run of the sector before it. */
  #continues(sector: number): boolean {
    const sequence = this.#sequences.get(sector);
    return (
      sequence !== HOLE_SEQUENCE &&
      sequence === this.#sequences.get(sector - 1) &&
      this.#objectSectors.get(sector) === this.#objectSectors.get(sector - 1) + 1
    );
  }

  /** How many maximal runs start in [fromSector, toSector). */
  #countRunStarts(fromSector: number, toSector: number): number {
    let count = 0;
    for (let sector = fromSector; sector < toSector; sector++) {
      if (this.#sequences.get(sector) === HOLE_SEQUENCE) continue;
      if (sector === 0 || !this.#continues(sector)) count++;
    }
    return count;
  }
}
