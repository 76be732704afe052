/**
 * Spots sequential read streams and says what to prefetch (DESIGN.md §3: "Sequential reads
 * prefetch ahead"). A few streams are tracked at once (two files copied in parallel, a
 * kernel issuing readahead out of order). Once a stream has READS_BEFORE_PREFETCH reads
 * in a row, its prefetch window starts at PREFETCH_WINDOW_INITIAL_SECTORS ahead of the
 * reader and doubles with each read up to the configured maximum, so a long stream keeps
 * tens of MiB in flight, which is what cold sequential throughput at 50 ms of store
 * latency needs.
 */
import assert from 'node:assert/strict';

export const SEQUENTIAL_STREAMS_MAX = 8;
export const READS_BEFORE_PREFETCH = 2;
/** 1 MiB. */
export const PREFETCH_WINDOW_INITIAL_SECTORS = 256;
/**
 * A read this close to where a stream expects the next one still continues it (128 KiB):
 * room for a kernel's readahead requests arriving slightly out of order, not for random reads.
 */
export const SEQUENTIAL_SLACK_SECTORS = 32;
/**
 * Prefetch is topped up in steps of at least this much (1 MiB, one GET), not after every
 * small read, unless the reader has caught up with it.
 */
export const PREFETCH_STEP_MIN_SECTORS = 256;

interface Stream {
  nextSector: number;
  readCount: number;
  windowSectors: number;
  prefetchedEndSector: number;
}

export interface SectorSpan {
  firstSector: number;
  endSector: number;
}

export class SequentialDetector {
  readonly #windowMaxSectors: number;
  /** Most recently used last. */
  #streams: Stream[] = [];

  constructor(options: { windowMaxSectors: number }) {
    assert(options.windowMaxSectors >= 0);
    this.#windowMaxSectors = options.windowMaxSectors;
  }

  /** Records a read; returns the span to prefetch now, if any. */
  observe(span: SectorSpan): SectorSpan | undefined {
    if (this.#windowMaxSectors === 0) return undefined;
    const stream = this.#streamFor(span);
    stream.readCount++;
    stream.nextSector = Math.max(stream.nextSector, span.endSector);
    if (stream.readCount < READS_BEFORE_PREFETCH) return undefined;
    const firstSector = Math.max(stream.prefetchedEndSector, stream.nextSector);
    const endSector = stream.nextSector + stream.windowSectors;
    stream.windowSectors = Math.min(stream.windowSectors * 2, this.#windowMaxSectors);
    if (endSector <= firstSector) return undefined;
    const caughtUp = stream.prefetchedEndSector <= stream.nextSector;
    if (!caughtUp && endSector - firstSector < Math.min(PREFETCH_STEP_MIN_SECTORS, stream.windowSectors)) return undefined;
    stream.prefetchedEndSector = endSector;
    return { firstSector, endSector };
  }

  #streamFor(span: SectorSpan): Stream {
    const index = this.#streams.findIndex((stream) => Math.abs(span.firstSector - stream.nextSector) <= SEQUENTIAL_SLACK_SECTORS);
    const found = index === -1 ? undefined : this.#streams.splice(index, 1)[0];
    const stream = found ?? {
      nextSector: span.endSector,
      readCount: 0,
      windowSectors: Math.min(PREFETCH_WINDOW_INITIAL_SECTORS, this.#windowMaxSectors),
      prefetchedEndSector: span.endSector,
    };
    this.#streams.push(stream);
    if (this.#streams.length > SEQUENTIAL_STREAMS_MAX) this.#streams.shift();
    return stream;
  }
}
