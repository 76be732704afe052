/**
 * A bounded LRU cache of uploaded object data, one 4 KiB sector per entry, keyed by
 * (sequence, sector within the object's data area). Log objects are immutable, so an entry
 * never goes stale. A JavaScript Map keeps insertion order: re-inserting on a hit moves an
 * entry to the young end, and eviction takes from the old end.
 */
import assert from 'node:assert/strict';
import { SECTOR_SIZE_BYTES } from '../logformat/limits.js';

export class ReadCache {
  readonly capacityBytes: number;
  readonly #sectors = new Map<string, Uint8Array>();
  #hitCount = 0;
  #missCount = 0;

  constructor(options: { capacityBytes: number }) {
    assert(options.capacityBytes >= 0);
    this.capacityBytes = options.capacityBytes;
  }

  get sizeBytes(): number {
    return this.#sectors.size * SECTOR_SIZE_BYTES;
  }

  get hitCount(): number {
    return this.#hitCount;
  }

  get missCount(): number {
    return this.#missCount;
  }

  has(sequence: number, objectSector: number): boolean {
    return this.#sectors.has(cacheKey(sequence, objectSector));
  }

  /** Copies the sector into `target` and returns true on a hit. */
  copyInto(options: { sequence: number; objectSector: number; target: Uint8Array; targetOffsetBytes: number }): boolean {
    const key = cacheKey(options.sequence, options.objectSector);
    const sector = this.#sectors.get(key);
    if (sector === undefined) {
      this.#missCount++;
      return false;
    }
    this.#hitCount++;
    this.#sectors.delete(key);
    this.#sectors.set(key, sector);
    options.target.set(sector, options.targetOffsetBytes);
    return true;
  }

  /** Stores copies of whole sectors of `data`, the first being `firstObjectSector`. */
  insert(options: { sequence: number; firstObjectSector: number; data: Uint8Array }): void {
    if (this.capacityBytes < SECTOR_SIZE_BYTES) return;
    assert.equal(options.data.length % SECTOR_SIZE_BYTES, 0);
    const sectorCount = options.data.length / SECTOR_SIZE_BYTES;
    for (let index = 0; index < sectorCount; index++) {
      const key = cacheKey(options.sequence, options.firstObjectSector + index);
      this.#sectors.delete(key);
      this.#sectors.set(key, options.data.slice(index * SECTOR_SIZE_BYTES, (index + 1) * SECTOR_SIZE_BYTES));
    }
    this.#evict();
  }

  clear(): void {
    this.#sectors.clear();
  }

  #evict(): void {
    const capacitySectors = Math.floor(this.capacityBytes / SECTOR_SIZE_BYTES);
    const keys = this.#sectors.keys();
    while (this.#sectors.size > capacitySectors) {
      const oldest = keys.next();
      assert(oldest.done !== true);
      this.#sectors.delete(oldest.value);
    }
  }
}

function cacheKey(sequence: number, objectSector: number): string {
  return `${sequence}/${objectSector}`;
}
