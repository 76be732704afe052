import assert from 'node:assert/strict';
import { NARROW_STORED_MAX, U32_MAX, ValueRange, columnWidthBytes } from './extent-map-chunk.js';

/**
 * One u32 value per sector, stored in 16 bits while the chunk's non-zero values span fewer
 * than 2^16 numbers (a narrow column stores `value - bias`, and 0 as 0), in 32 bits otherwise.
 * Zero is always representable: it marks a hole in the sequence column and is the common
 * first sector of an object. A value outside the window first tries a new bias (one pass over
 * the column), and only widens when the values really span more than 16 bits.
 */
export class PackedColumn {
  #values: Uint16Array | Uint32Array;
  #bias: number;

  private constructor(values: Uint16Array | Uint32Array, bias: number) {
    this.#values = values;
    this.#bias = bias;
  }

  /** An all-zero column sized and biased for values in `range`. */
  static forRange(lengthEntries: number, range: ValueRange): PackedColumn {
    if (columnWidthBytes(range) === 4) return new PackedColumn(new Uint32Array(lengthEntries), 0);
    const bias = range.empty ? 0 : range.lowValue - 1;
    return new PackedColumn(new Uint16Array(lengthEntries), bias);
  }

  get byteLength(): number {
    return this.#values.byteLength;
  }

  get wide(): boolean {
    return this.#values instanceof Uint32Array;
  }

  get(index: number): number {
    const stored = this.#values[index]!;
    return stored === 0 ? 0 : stored + this.#bias;
  }

  /** Call before `put` with the smallest and largest value about to be stored. */
  ensureFits(lowValue: number, highValue: number): void {
    assert(lowValue >= 0 && highValue <= U32_MAX && lowValue <= highValue);
    if (this.wide || highValue === 0) return;
    const low = Math.max(lowValue, 1);
    if (low - this.#bias >= 1 && highValue - this.#bias <= NARROW_STORED_MAX) return;
    this.#repack(low, highValue);
  }

  /** Stores a value that `ensureFits` admitted. */
  put(index: number, value: number): void {
    const stored = value === 0 ? 0 : value - this.#bias;
    assert(stored >= 0 && (this.wide || stored <= NARROW_STORED_MAX));
    this.#values[index] = stored;
  }

  #repack(lowValue: number, highValue: number): void {
    const range = new ValueRange();
    range.include(lowValue, highValue);
    for (let index = 0; index < this.#values.length; index++) {
      const value = this.get(index);
      range.include(value, value);
    }
    const repacked = PackedColumn.forRange(this.#values.length, range);
    for (let index = 0; index < this.#values.length; index++) repacked.put(index, this.get(index));
    this.#values = repacked.#values;
    this.#bias = repacked.#bias;
  }
}
