import assert from 'node:assert/strict';
import {
  CHUNK_SIZE_SECTORS,
  DENSE_SIZE_MIN_BYTES,
  EXTENT_SIZE_BYTES,
  OBJECT_OVERHEAD_BYTES,
  TYPED_ARRAY_OVERHEAD_BYTES,
  chunkValueRanges,
  denseSizeBytes,
  type Chunk,
  type Placement,
  type VisitOptions,
} from './extent-map-chunk.js';

/** Word 0: start (low 16 bits) and length (high 16 bits); word 1: sequence; word 2: objectSector. */
const WORDS_PER_EXTENT = EXTENT_SIZE_BYTES / Uint32Array.BYTES_PER_ELEMENT;

/** A new list holds this many extents before it first grows (sequential data needs one). */
const EXTENT_CAPACITY_MIN = 2;

/** A chunk never holds more extents than it has sectors. */
const EXTENT_CAPACITY_MAX = CHUNK_SIZE_SECTORS;

/** Grow by a quarter (not double), so a list's slack stays small against the dense size it is compared with. */
function grownCapacity(countExtents: number): number {
  return Math.min(EXTENT_CAPACITY_MAX, Math.max(EXTENT_CAPACITY_MIN, countExtents + (countExtents >> 2) + 1));
}

/**
 * A chunk as a sorted list of maximal, non-overlapping packed extents (12 bytes each): the
 * natural form for sequential data (one extent per 8 MiB object). A write costs a binary
 * search and one shift of the tail, at most a few thousand words.
 */
export class ExtentChunk implements Chunk {
  readonly kind = 'extents' as const;
  #words: Uint32Array;
  #count = 0;
  #prefersDense = false;

  private constructor(capacityExtents: number) {
    this.#words = new Uint32Array(capacityExtents * WORDS_PER_EXTENT);
  }

  static empty(): ExtentChunk {
    return new ExtentChunk(EXTENT_CAPACITY_MIN);
  }

  /** The same runs as `source` (whose runs are maximal), in a list with a little room to grow. */
  static fromChunk(source: Chunk): ExtentChunk {
    const chunk = new ExtentChunk(grownCapacity(source.runCount));
    source.visitRuns({
      chunkStartSector: 0,
      fromSector: 0,
      toSector: CHUNK_SIZE_SECTORS,
      sink: {
        add: (run) => {
          chunk.#write(chunk.#count, { ...run, startSector: run.volumeSector });
          chunk.#count++;
        },
      },
    });
    assert.equal(chunk.#count, source.runCount, 'a chunk holds maximal runs only');
    return chunk;
  }

  get runCount(): number {
    return this.#count;
  }

  set(placement: Placement): void {
    const endSector = placement.startSector + placement.lengthSectors;
    const index = this.#clearRange(placement.startSector, endSector);
    if (index > 0 && this.#continuedBy(index - 1, placement)) {
      this.#setLength(index - 1, this.#lengthOf(index - 1) + placement.lengthSectors);
      if (index < this.#count && this.#continuedBy(index - 1, this.#read(index))) {
        this.#setLength(index - 1, this.#lengthOf(index - 1) + this.#lengthOf(index));
        this.#remove(index, 1);
      }
    } else if (index < this.#count && this.#continuedBy(placement, index)) {
      const next = this.#read(index);
      this.#write(index, { ...placement, lengthSectors: placement.lengthSectors + next.lengthSectors });
    } else {
      this.#insertGap(index, 1);
      this.#write(index, placement);
    }
    this.#shrinkIfSparse();
  }

  clear(fromSector: number, toSector: number): void {
    this.#clearRange(fromSector, toSector);
    this.#shrinkIfSparse();
  }

  visitRuns(options: VisitOptions): void {
    const { chunkStartSector, fromSector, toSector, sink } = options;
    for (let index = this.#firstEndingAfter(fromSector); index < this.#count; index++) {
      const extent = this.#read(index);
      if (extent.startSector >= toSector) break;
      const clippedStartSector = Math.max(extent.startSector, fromSector);
      const clippedEndSector = Math.min(extent.startSector + extent.lengthSectors, toSector);
      sink.add({
        volumeSector: chunkStartSector + clippedStartSector,
        lengthSectors: clippedEndSector - clippedStartSector,
        sequence: extent.sequence,
        objectSector: extent.objectSector + (clippedStartSector - extent.startSector),
      });
    }
  }

  prefersOtherForm(): boolean {
    return this.#prefersDense;
  }

  memoryUsageBytes(): number {
    return OBJECT_OVERHEAD_BYTES + TYPED_ARRAY_OVERHEAD_BYTES + this.#words.byteLength;
  }

  /** Removes [fromSector, toSector), splitting or trimming the extents it cuts; returns where it was. */
  #clearRange(fromSector: number, toSector: number): number {
    let index = this.#firstEndingAfter(fromSector);
    if (index === this.#count) return index;
    const first = this.#read(index);
    const firstEndSector = first.startSector + first.lengthSectors;
    if (first.startSector < fromSector && firstEndSector > toSector) {
      this.#insertGap(index + 1, 1);
      this.#setLength(index, fromSector - first.startSector);
      this.#write(index + 1, this.#tail(first, toSector));
      return index + 1;
    }
    if (first.startSector < fromSector) {
      this.#setLength(index, fromSector - first.startSector);
      index++;
    }
    this.#remove(index, this.#firstEndingAfter(toSector) - index);
    if (index < this.#count && this.#startOf(index) < toSector) {
      this.#write(index, this.#tail(this.#read(index), toSector));
    }
    return index;
  }

  /** The part of `extent` from `fromSector` on. */
  #tail(extent: Placement, fromSector: number): Placement {
    const skippedSectors = fromSector - extent.startSector;
    return {
      startSector: fromSector,
      lengthSectors: extent.lengthSectors - skippedSectors,
      sequence: extent.sequence,
      objectSector: extent.objectSector + skippedSectors,
    };
  }

  /** Whether `next` starts where `previous` ends, in the same object, at the next object sector. */
  #continuedBy(previous: Placement | number, next: Placement | number): boolean {
    const before = typeof previous === 'number' ? this.#read(previous) : previous;
    const after = typeof next === 'number' ? this.#read(next) : next;
    return (
      before.startSector + before.lengthSectors === after.startSector &&
      before.sequence === after.sequence &&
      before.objectSector + before.lengthSectors === after.objectSector
    );
  }

  /** The first extent whose end is past `sector` (binary search: extents are sorted and disjoint). */
  #firstEndingAfter(sector: number): number {
    let low = 0;
    let high = this.#count;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#startOf(middle) + this.#lengthOf(middle) <= sector) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  #startOf(index: number): number {
    return this.#words[index * WORDS_PER_EXTENT]! & 0xffff;
  }

  #lengthOf(index: number): number {
    return this.#words[index * WORDS_PER_EXTENT]! >>> 16;
  }

  #read(index: number): Placement {
    const word = index * WORDS_PER_EXTENT;
    return {
      startSector: this.#words[word]! & 0xffff,
      lengthSectors: this.#words[word]! >>> 16,
      sequence: this.#words[word + 1]!,
      objectSector: this.#words[word + 2]!,
    };
  }

  #setLength(index: number, lengthSectors: number): void {
    this.#write(index, { ...this.#read(index), lengthSectors });
  }

  #write(index: number, extent: Placement): void {
    assert(extent.lengthSectors >= 1 && extent.startSector + extent.lengthSectors <= CHUNK_SIZE_SECTORS);
    const word = index * WORDS_PER_EXTENT;
    this.#words[word] = extent.startSector + extent.lengthSectors * 0x1_0000;
    this.#words[word + 1] = extent.sequence;
    this.#words[word + 2] = extent.objectSector;
  }

  /** Makes room for `countExtents` extents at `index`, growing the list when full. */
  #insertGap(index: number, countExtents: number): void {
    const neededExtents = this.#count + countExtents;
    if (neededExtents * WORDS_PER_EXTENT > this.#words.length) this.#resize(grownCapacity(neededExtents));
    this.#words.copyWithin((index + countExtents) * WORDS_PER_EXTENT, index * WORDS_PER_EXTENT, this.#count * WORDS_PER_EXTENT);
    this.#count = neededExtents;
  }

  #remove(index: number, countExtents: number): void {
    if (countExtents === 0) return;
    this.#words.copyWithin(index * WORDS_PER_EXTENT, (index + countExtents) * WORDS_PER_EXTENT, this.#count * WORDS_PER_EXTENT);
    this.#count -= countExtents;
  }

  #shrinkIfSparse(): void {
    const capacityExtents = this.#words.length / WORDS_PER_EXTENT;
    if (capacityExtents > EXTENT_CAPACITY_MIN && this.#count * 2 < capacityExtents) {
      this.#resize(grownCapacity(this.#count));
    }
  }

  /**
   * Only a change of capacity changes what the list costs, so only then is it compared with
   * the dense form (one pass over the extents, at most once per growth step).
   */
  #resize(capacityExtents: number): void {
    const words = new Uint32Array(capacityExtents * WORDS_PER_EXTENT);
    words.set(this.#words.subarray(0, this.#count * WORDS_PER_EXTENT));
    this.#words = words;
    this.#prefersDense = words.byteLength > DENSE_SIZE_MIN_BYTES && words.byteLength > denseSizeBytes(chunkValueRanges(this));
  }
}
