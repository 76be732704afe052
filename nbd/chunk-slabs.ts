/**
 * Fixed-size chunk slots carved out of large slabs, for the memory device. A slot is a
 * plain number (slab index x slots per slab + slot in slab), so a million chunks cost no
 * JavaScript objects; a slab whose slots are all free is given back.
 */
import assert from 'node:assert/strict';

export const SLAB_SIZE_BYTES = 4 * 1024 * 1024;

interface Slab {
  buffer: Buffer;
  freeSlots: number[];
  usedCount: number;
}

export class ChunkSlabs {
  readonly #chunkSizeBytes: number;
  readonly #slotsPerSlab: number;
  readonly #slabs: Array<Slab | undefined> = [];
  readonly #unusedSlabIndexes: number[] = [];
  /** Slabs that have at least one free slot, by index. */
  readonly #slabsWithSpace = new Set<number>();
  #usedSlotCount = 0;

  constructor(options: { chunkSizeBytes: number }) {
    assert(options.chunkSizeBytes > 0 && SLAB_SIZE_BYTES % options.chunkSizeBytes === 0);
    this.#chunkSizeBytes = options.chunkSizeBytes;
    this.#slotsPerSlab = SLAB_SIZE_BYTES / options.chunkSizeBytes;
  }

  /** Slabs currently allocated (each SLAB_SIZE_BYTES). */
  get slabCount(): number {
    return this.#slabs.length - this.#unusedSlabIndexes.length;
  }

  get usedSlotCount(): number {
    return this.#usedSlotCount;
  }

  /** A free slot; its bytes are zeros if `zeroed`, else undefined. */
  allocate(options: { zeroed: boolean }): number {
    let slabIndex: number | undefined = this.#slabsWithSpace.values().next().value;
    if (slabIndex === undefined) slabIndex = this.#createSlab();
    const slab = this.#slabs[slabIndex];
    assert(slab !== undefined);
    const slotInSlab = slab.freeSlots.pop();
    assert(slotInSlab !== undefined);
    slab.usedCount += 1;
    this.#usedSlotCount += 1;
    if (slab.freeSlots.length === 0) this.#slabsWithSpace.delete(slabIndex);
    if (options.zeroed) {
      const startBytes = slotInSlab * this.#chunkSizeBytes;
      slab.buffer.fill(0, startBytes, startBytes + this.#chunkSizeBytes);
    }
    return slabIndex * this.#slotsPerSlab + slotInSlab;
  }

  free(slot: number): void {
    const slabIndex = Math.floor(slot / this.#slotsPerSlab);
    const slab = this.#slabs[slabIndex];
    assert(slab !== undefined && slab.usedCount > 0, 'freed a slot that is not allocated');
    slab.freeSlots.push(slot - slabIndex * this.#slotsPerSlab);
    slab.usedCount -= 1;
    this.#usedSlotCount -= 1;
    if (slab.usedCount > 0) {
      this.#slabsWithSpace.add(slabIndex);
      return;
    }
    this.#slabs[slabIndex] = undefined;
    this.#slabsWithSpace.delete(slabIndex);
    this.#unusedSlabIndexes.push(slabIndex);
  }

  /** The slab buffer holding `slot`; its bytes start at `offsetOf(slot)`. */
  bufferOf(slot: number): Buffer {
    const slab = this.#slabs[Math.floor(slot / this.#slotsPerSlab)];
    assert(slab !== undefined);
    return slab.buffer;
  }

  offsetOf(slot: number): number {
    return (slot % this.#slotsPerSlab) * this.#chunkSizeBytes;
  }

  #createSlab(): number {
    const slabIndex = this.#unusedSlabIndexes.pop() ?? this.#slabs.length;
    const freeSlots: number[] = [];
    for (let slotInSlab = this.#slotsPerSlab - 1; slotInSlab >= 0; slotInSlab--) freeSlots.push(slotInSlab);
    this.#slabs[slabIndex] = { buffer: Buffer.allocUnsafeSlow(SLAB_SIZE_BYTES), freeSlots, usedCount: 0 };
    this.#slabsWithSpace.add(slabIndex);
    return slabIndex;
  }
}
