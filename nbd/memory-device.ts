/**
 * A sparse in-memory BlockDevice: the disk is 64 KiB chunks allocated on first write, so a
 * 1 TiB device costs nothing until written. Trimmed and zeroed whole chunks are freed
 * (or, with NO_HOLE, marked allocated-and-zero without memory), so zeroing is a metadata
 * operation and FAST_ZERO is honest. Used by tests and by the NBD-path benchmark.
 *
 * Chunks live in 4 MiB slabs: V8 pays per ArrayBuffer at every full garbage collection,
 * and a gibibyte as 16,384 separate buffers made collections (and so writes) slow. The
 * chunk table maps a chunk index to a slot number, not to an object.
 */
import assert from 'node:assert/strict';
import type { BlockDevice, BlockStatusExtent, WriteOptions, WriteZeroesOptions } from './block-device.js';
import { ChunkSlabs } from './chunk-slabs.js';

export const MEMORY_CHUNK_SIZE_BYTES = 64 * 1024;
/** The server validates requests; the device still checks its own invariants. */
const SECTOR_SIZE_BYTES = 512;
/** A chunk that reads as zeros but counts as allocated (WRITE_ZEROES with NO_HOLE). */
const ZERO_SLOT = -1;

export interface MemoryDeviceOptions {
  sizeBytes: number;
  readOnly?: boolean;
}

/** The part of a request inside one chunk. One object per call, reused for every chunk. */
interface ChunkSpan {
  chunkIndex: number;
  /** Where the span starts inside the chunk. */
  chunkOffsetBytes: number;
  spanBytes: number;
  /** Where the span starts inside the request. */
  positionBytes: number;
}

export class MemoryDevice implements BlockDevice {
  readonly sizeBytes: number;
  readonly readOnly: boolean;
  readonly canZeroFast = true;
  /** Chunk index -> slot in #slabs, or ZERO_SLOT. Absent means a hole. */
  readonly #chunks = new Map<number, number>();
  readonly #slabs = new ChunkSlabs({ chunkSizeBytes: MEMORY_CHUNK_SIZE_BYTES });

  constructor(options: MemoryDeviceOptions) {
    assert(Number.isSafeInteger(options.sizeBytes) && options.sizeBytes >= 0);
    assert(options.sizeBytes % SECTOR_SIZE_BYTES === 0, 'size must be whole 512-byte sectors');
    this.sizeBytes = options.sizeBytes;
    this.readOnly = options.readOnly === true;
  }

  /** Bytes of chunk memory holding data (for tests and benchmarks). */
  get allocatedBytes(): number {
    return this.#slabs.usedSlotCount * MEMORY_CHUNK_SIZE_BYTES;
  }

  async read(offsetBytes: number, lengthBytes: number): Promise<Uint8Array> {
    const target = Buffer.allocUnsafe(lengthBytes);
    this.#copyOut(offsetBytes, target);
    return target;
  }

  async readInto(offsetBytes: number, target: Uint8Array): Promise<void> {
    this.#copyOut(offsetBytes, asBuffer(target));
  }

  async write(offsetBytes: number, data: Uint8Array, _options: WriteOptions): Promise<void> {
    this.#assertWritable();
    this.#assertRange(offsetBytes, data.length);
    const source = asBuffer(data);
    const slabs = this.#slabs;
    this.#forEachChunk({ offsetBytes, lengthBytes: data.length }, (span) => {
      const { chunkIndex, chunkOffsetBytes, spanBytes, positionBytes } = span;
      let slot = this.#chunks.get(chunkIndex);
      if (slot === undefined || slot === ZERO_SLOT) {
        slot = slabs.allocate({ zeroed: spanBytes !== MEMORY_CHUNK_SIZE_BYTES });
        this.#chunks.set(chunkIndex, slot);
      }
      const slabBuffer = slabs.bufferOf(slot);
      source.copy(slabBuffer, slabs.offsetOf(slot) + chunkOffsetBytes, positionBytes, positionBytes + spanBytes);
    });
  }

  /** Memory is the whole medium: every resolved write is as durable as it gets. */
  async flush(): Promise<void> {}

  async trim(offsetBytes: number, lengthBytes: number, _options: WriteOptions): Promise<void> {
    this.#zero(offsetBytes, lengthBytes, { keepAllocated: false });
  }

  async writeZeroes(offsetBytes: number, lengthBytes: number, options: WriteZeroesOptions): Promise<void> {
    this.#zero(offsetBytes, lengthBytes, { keepAllocated: options.noHole });
  }

  async blockStatus(offsetBytes: number, lengthBytes: number): Promise<BlockStatusExtent[]> {
    this.#assertRange(offsetBytes, lengthBytes);
    const extents: BlockStatusExtent[] = [];
    this.#forEachChunk({ offsetBytes, lengthBytes }, ({ chunkIndex, spanBytes }) => {
      const slot = this.#chunks.get(chunkIndex);
      const hole = slot === undefined;
      const zero = hole || slot === ZERO_SLOT;
      const previous = extents[extents.length - 1];
      if (previous !== undefined && previous.hole === hole && previous.zero === zero) previous.lengthBytes += spanBytes;
      else extents.push({ lengthBytes: spanBytes, hole, zero });
    });
    return extents;
  }

  #copyOut(offsetBytes: number, target: Buffer): void {
    this.#assertRange(offsetBytes, target.length);
    const slabs = this.#slabs;
    this.#forEachChunk({ offsetBytes, lengthBytes: target.length }, (span) => {
      const { chunkIndex, chunkOffsetBytes, spanBytes, positionBytes } = span;
      const slot = this.#chunks.get(chunkIndex);
      if (slot === undefined || slot === ZERO_SLOT) {
        target.fill(0, positionBytes, positionBytes + spanBytes);
        return;
      }
      const sourceOffsetBytes = slabs.offsetOf(slot) + chunkOffsetBytes;
      slabs.bufferOf(slot).copy(target, positionBytes, sourceOffsetBytes, sourceOffsetBytes + spanBytes);
    });
  }

  #zero(offsetBytes: number, lengthBytes: number, options: { keepAllocated: boolean }): void {
    this.#assertWritable();
    this.#assertRange(offsetBytes, lengthBytes);
    const slabs = this.#slabs;
    this.#forEachChunk({ offsetBytes, lengthBytes }, ({ chunkIndex, chunkOffsetBytes, spanBytes }) => {
      const slot = this.#chunks.get(chunkIndex);
      if (spanBytes === MEMORY_CHUNK_SIZE_BYTES) {
        if (slot !== undefined && slot !== ZERO_SLOT) slabs.free(slot);
        if (options.keepAllocated) this.#chunks.set(chunkIndex, ZERO_SLOT);
        else this.#chunks.delete(chunkIndex);
      } else if (slot !== undefined && slot !== ZERO_SLOT) {
        const startBytes = slabs.offsetOf(slot) + chunkOffsetBytes;
        slabs.bufferOf(slot).fill(0, startBytes, startBytes + spanBytes);
      } else if (slot === undefined && options.keepAllocated) {
        // Part of a hole must stay allocated: the whole chunk becomes allocated zeros.
        this.#chunks.set(chunkIndex, ZERO_SLOT);
      }
    });
  }

  /** Calls `visit` for each chunk the range touches, in order; spans never cross chunks. */
  #forEachChunk(range: { offsetBytes: number; lengthBytes: number }, visit: (span: ChunkSpan) => void): void {
    const span: ChunkSpan = { chunkIndex: 0, chunkOffsetBytes: 0, spanBytes: 0, positionBytes: 0 };
    while (span.positionBytes < range.lengthBytes) {
      const absoluteBytes = range.offsetBytes + span.positionBytes;
      span.chunkIndex = Math.floor(absoluteBytes / MEMORY_CHUNK_SIZE_BYTES);
      span.chunkOffsetBytes = absoluteBytes - span.chunkIndex * MEMORY_CHUNK_SIZE_BYTES;
      const remainingBytes = range.lengthBytes - span.positionBytes;
      span.spanBytes = Math.min(MEMORY_CHUNK_SIZE_BYTES - span.chunkOffsetBytes, remainingBytes);
      visit(span);
      span.positionBytes += span.spanBytes;
    }
  }

  #assertRange(offsetBytes: number, lengthBytes: number): void {
    assert(Number.isSafeInteger(offsetBytes) && offsetBytes >= 0, 'offset must be a non-negative integer');
    assert(Number.isSafeInteger(lengthBytes) && lengthBytes >= 0, 'length must be a non-negative integer');
    assert(offsetBytes + lengthBytes <= this.sizeBytes, 'range must lie within the device');
  }

  #assertWritable(): void {
    if (this.readOnly) throw Object.assign(new Error('The memory device is read-only'), { code: 'EROFS' });
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
