/**
 * Applies a recovered log object to the extent map (DESIGN.md §1 layout): its zero ranges
 * first, then its entries in header order, entry i's data starting at the sum of the sizes
 * of the entries before it.
 */
import assert from 'node:assert/strict';
import { SECTOR_SIZE_BYTES } from '../logformat/limits.js';
import type { RecoveredObject } from '../recovery/recover.js';
import type { ExtentMap } from './extent-map.js';

export function applyRecoveredObject(map: ExtentMap, object: RecoveredObject): void {
  for (const range of object.zeroRanges) {
    assert(range.addressBytes % SECTOR_SIZE_BYTES === 0 && range.sizeBytes % SECTOR_SIZE_BYTES === 0, 'the codec rejects unaligned ranges');
    map.clear(range.addressBytes / SECTOR_SIZE_BYTES, range.sizeBytes / SECTOR_SIZE_BYTES);
  }
  let objectSector = 0;
  for (const entry of object.entries) {
    assert(entry.addressBytes % SECTOR_SIZE_BYTES === 0 && entry.sizeBytes % SECTOR_SIZE_BYTES === 0, 'the codec rejects unaligned entries');
    const lengthSectors = entry.sizeBytes / SECTOR_SIZE_BYTES;
    map.set({ volumeSector: entry.addressBytes / SECTOR_SIZE_BYTES, lengthSectors, sequence: object.sequence, objectSector });
    objectSector += lengthSectors;
  }
}
