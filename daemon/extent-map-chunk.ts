/**
 * What the two chunk representations of the extent map share: the chunk geometry, the run
 * types, and the size estimates that decide which representation a chunk uses.
 * The design and the measured figures are at the top of `extent-map.ts`.
 */

/** The sequence of a run that was never written or was trimmed: it reads as zeros. */
export const HOLE_SEQUENCE = 0;

/** One run of the map: `lengthSectors` sectors from `volumeSector` live in log object `sequence`. */
export interface MapRun {
  volumeSector: number;
  lengthSectors: number;
  /** The log object holding the data; HOLE_SEQUENCE = never written or trimmed (reads as zeros). */
  sequence: number;
  /** Sector offset within that object's data area (after the 12 KiB header); 0 for holes. */
  objectSector: number;
}

/** The map splits the volume into chunks of this many sectors (8 MiB of volume). */
export const CHUNK_SIZE_SECTORS = 2048;

/** Chunks are grouped into pages so an untouched 8 GiB costs one empty slot. */
export const CHUNKS_PER_PAGE = 1024;

export const PAGE_SIZE_SECTORS = CHUNK_SIZE_SECTORS * CHUNKS_PER_PAGE;

/** Sequences and object sectors are stored as u32. */
export const U32_MAX = 0xffff_ffff;

/** One packed extent: start u16 + length u16, sequence u32, objectSector u32. */
export const EXTENT_SIZE_BYTES = 12;

/**
 * A dense chunk goes back to an extent list only once the list would take at most this
 * fraction of the dense arrays, so a chunk near the break-even point does not flip on every write.
 */
export const DENSE_TO_EXTENTS_FRACTION = 0.5;

/** Estimated heap bytes of one small JS object (header + a few fields, 64-bit without pointer compression). */
export const OBJECT_OVERHEAD_BYTES = 64;

/** Estimated bytes of one typed array beyond its elements (the view, its ArrayBuffer, the backing-store record). */
export const TYPED_ARRAY_OVERHEAD_BYTES = 160;

/** Estimated bytes of one slot of a JS array (a tagged pointer). */
export const ARRAY_SLOT_BYTES = 8;

/** A write into one chunk; `startSector` counts from the start of the chunk. */
export interface Placement {
  startSector: number;
  lengthSectors: number;
  sequence: number;
  objectSector: number;
}

/** Receives runs in address order. */
export interface RunSink {
  add(run: MapRun): void;
}

export interface VisitOptions {
  /** Added to the chunk-relative addresses of the runs handed to the sink. */
  chunkStartSector: number;
  /** The chunk-relative range to visit; runs are clipped to it. */
  fromSector: number;
  toSector: number;
  sink: RunSink;
}

export interface Chunk {
  readonly kind: 'extents' | 'dense';
  /** Maximal mapped runs in the chunk (0 once the chunk holds only holes). */
  readonly runCount: number;
  set(placement: Placement): void;
  clear(fromSector: number, toSector: number): void;
  /** Hands every mapped run that intersects the range to the sink, clipped, in address order. */
  visitRuns(options: VisitOptions): void;
  /** True once the other representation would hold the same runs in less memory. */
  prefersOtherForm(): boolean;
  memoryUsageBytes(): number;
}

/** The smallest and largest non-zero value a column must hold (zero is always representable). */
export class ValueRange {
  lowValue = Number.POSITIVE_INFINITY;
  highValue = Number.NEGATIVE_INFINITY;

  get empty(): boolean {
    return this.highValue < this.lowValue;
  }

  include(lowValue: number, highValue: number): void {
    if (highValue === 0) return;
    this.lowValue = Math.min(this.lowValue, Math.max(lowValue, 1));
    this.highValue = Math.max(this.highValue, highValue);
  }
}

/** A column stores values in 16 bits (relative to a bias) while they span fewer than 2^16 values. */
export const NARROW_STORED_MAX = 0xffff;

export function columnWidthBytes(range: ValueRange): 2 | 4 {
  if (range.empty) return 2;
  return range.highValue - range.lowValue < NARROW_STORED_MAX ? 2 : 4;
}

export interface ChunkValueRanges {
  sequence: ValueRange;
  objectSector: ValueRange;
}

/** The ranges of sequences and object sectors the chunk holds (one pass over its runs). */
export function chunkValueRanges(chunk: Chunk): ChunkValueRanges {
  const ranges = { sequence: new ValueRange(), objectSector: new ValueRange() };
  chunk.visitRuns({
    chunkStartSector: 0,
    fromSector: 0,
    toSector: CHUNK_SIZE_SECTORS,
    sink: {
      add(run) {
        ranges.sequence.include(run.sequence, run.sequence);
        ranges.objectSector.include(run.objectSector, run.objectSector + run.lengthSectors - 1);
      },
    },
  });
  return ranges;
}

/** Bytes of the dense arrays that would hold values in these ranges. */
export function denseSizeBytes(ranges: ChunkValueRanges): number {
  const widthBytes = columnWidthBytes(ranges.sequence) + columnWidthBytes(ranges.objectSector);
  return CHUNK_SIZE_SECTORS * widthBytes;
}

/** The smallest a dense chunk can be (both columns narrow). */
export const DENSE_SIZE_MIN_BYTES = CHUNK_SIZE_SECTORS * 4;
