/**
 * The write side of the volume's requests (DESIGN.md §3 write steps 1, 2 and 5): admission
 * under backpressure, full-sector writes, read-modify-write of partial sectors, and zeroing
 * (TRIM, WRITE_ZEROES) as zero ranges. Durability (FUA, FLUSH) is the Volume's business.
 */
import assert from 'node:assert/strict';
import { SECTOR_SIZE_BYTES } from '../logformat/limits.js';
import type { IdleSealTimer } from './idle-seal-timer.js';
import type { LogWriter, Mutation, SectorSpan } from './log-writer.js';
import { RangeLocks } from './range-locks.js';
import type { VolumeReads } from './volume-reads.js';

export interface VolumeWritesOptions {
  writer: LogWriter;
  reads: VolumeReads;
  idleTimer: IdleSealTimer;
  unuploadedBytesMax: number;
  /** Throws the volume's error unless it still accepts writes. */
  checkWritable(): void;
}

export class VolumeWrites {
  readonly #options: VolumeWritesOptions;
  readonly #locks = new RangeLocks();
  #waiters: { lengthBytes: number; resolve: () => void }[] = [];
  /** Bytes of writes admitted past backpressure but not yet applied. */
  #admittedBytes = 0;
  #stopped = false;

  constructor(options: VolumeWritesOptions) {
    this.#options = options;
  }

  get waitingCount(): number {
    return this.#waiters.length;
  }

  async write(offsetBytes: number, data: Uint8Array): Promise<void> {
    await this.#admit(data.length);
    try {
      this.#options.checkWritable();
      await this.#applyWrite(offsetBytes, data);
    } finally {
      this.#release(data.length);
    }
  }

  async zero(offsetBytes: number, lengthBytes: number): Promise<void> {
    const endBytes = offsetBytes + lengthBytes;
    const wholeFirstSector = Math.ceil(offsetBytes / SECTOR_SIZE_BYTES);
    const wholeEndSector = Math.floor(endBytes / SECTOR_SIZE_BYTES);
    const wholeSpan = { firstSector: wholeFirstSector, endSector: wholeEndSector };
    if (wholeFirstSector * SECTOR_SIZE_BYTES === offsetBytes && wholeEndSector * SECTOR_SIZE_BYTES === endBytes) {
      await this.#applyWhenFree(wholeSpan, { writes: [], zeroSpan: wholeSpan });
    } else if (wholeEndSector <= wholeFirstSector) {
      // Inside one or two sectors: an ordinary partial write of zeros.
      await this.write(offsetBytes, new Uint8Array(lengthBytes));
    } else {
      await this.#zeroWithPartialEdges({ offsetBytes, endBytes, wholeSpan });
    }
  }

  /** Lets every waiting write go on (to fail on the volume's state). */
  stop(): void {
    this.#stopped = true;
    this.wake();
  }

  /**
   * Backpressure (DESIGN.md §3 step 5): waiting writes go in arrival order once the
   * unuploaded bytes, counting writes already admitted, are under the limit. Each admitted
   * write reserves its bytes at once, so memory stays within the limit plus one request.
   */
  wake(): void {
    while (this.#waiters.length > 0 && (this.#stopped || this.#pressureBytes() < this.#options.unuploadedBytesMax)) {
      const waiter = this.#waiters.shift();
      assert(waiter !== undefined);
      this.#admittedBytes += waiter.lengthBytes;
      waiter.resolve();
    }
  }

  async #admit(lengthBytes: number): Promise<void> {
    if (this.#waiters.length === 0 && this.#pressureBytes() < this.#options.unuploadedBytesMax) {
      this.#admittedBytes += lengthBytes;
      return;
    }
    await new Promise<void>((resolve) => this.#waiters.push({ lengthBytes, resolve }));
  }

  #release(lengthBytes: number): void {
    this.#admittedBytes -= lengthBytes;
    this.wake();
  }

  #pressureBytes(): number {
    return this.#options.writer.unuploadedBytes + this.#admittedBytes;
  }

  async #applyWrite(offsetBytes: number, data: Uint8Array): Promise<void> {
    const span = { firstSector: Math.floor(offsetBytes / SECTOR_SIZE_BYTES), endSector: Math.ceil((offsetBytes + data.length) / SECTOR_SIZE_BYTES) };
    const lengthSectors = span.endSector - span.firstSector;
    if (offsetBytes % SECTOR_SIZE_BYTES === 0 && data.length % SECTOR_SIZE_BYTES === 0) {
      await this.#applyWhenFree(span, { writes: [{ volumeSector: span.firstSector, lengthSectors, data, dataOffsetBytes: 0 }] });
      return;
    }
    // 512-byte aligned: read-modify-write of the partial sectors, holding the range so two
    // partial writes to one sector cannot each write back the other's old bytes.
    const release = await this.#locks.acquire(span);
    try {
      const merged = await this.#options.reads.readEdges(span, offsetBytes, data.length);
      merged.set(data, offsetBytes - span.firstSector * SECTOR_SIZE_BYTES);
      this.#apply({ writes: [{ volumeSector: span.firstSector, lengthSectors, data: merged, dataOffsetBytes: 0 }] });
    } finally {
      release();
    }
  }

  /** Whole sectors become a zero range; the partial sectors at either end are rewritten. */
  async #zeroWithPartialEdges(options: { offsetBytes: number; endBytes: number; wholeSpan: SectorSpan }): Promise<void> {
    const span = { firstSector: Math.floor(options.offsetBytes / SECTOR_SIZE_BYTES), endSector: Math.ceil(options.endBytes / SECTOR_SIZE_BYTES) };
    const release = await this.#locks.acquire(span);
    try {
      const edges = await this.#options.reads.readPartialSectors({ span, offsetBytes: options.offsetBytes, endBytes: options.endBytes });
      this.#apply({ writes: edges, zeroSpan: options.wholeSpan });
    } finally {
      release();
    }
  }

  /** Full-sector mutations apply synchronously once no partial writer holds an overlapping range. */
  async #applyWhenFree(span: SectorSpan, mutation: Mutation): Promise<void> {
    while (!this.#locks.isFree(span)) await this.#locks.waitFree(span);
    this.#apply(mutation);
  }

  #apply(mutation: Mutation): void {
    this.#options.checkWritable();
    this.#options.writer.apply(mutation);
    this.#options.idleTimer.noteWrite();
  }
}
