/**
 * The open in-memory log object (DESIGN.md §3, write steps 1 and 3).
 *
 * Writes land in 4 KiB slots of a growing buffer; a small index maps each volume sector to
 * its slot, so a rewrite of a sector overwrites its slot in place (the object is not a
 * literal log of the writes, DESIGN.md §1 allows merging). The index also tracks how many
 * address-ordered runs the live sectors form: that is the number of header entries the
 * object will have once flattened, which must stay within HEADER_ENTRIES_MAX.
 *
 * Zero ranges (TRIM, WRITE_ZEROES) are kept as a sorted list of sector ranges; they cut the
 * object's own entries they overlap, because on replay an object's zero ranges are applied
 * BEFORE its entries.
 */
import assert from 'node:assert/strict';
import { HEADER_ENTRIES_MAX, HEADER_SIZE_BYTES, SECTOR_SIZE_BYTES } from '../logformat/limits.js';
import { encodeLogHeader, type LogEntry } from '../logformat/log-object.js';
import type { ZeroRange } from '../logformat/zero-ranges.js';

/** Zero ranges one object carries; past this it is sealed (a bound on the companion's size). */
export const OPEN_OBJECT_ZERO_RANGES_MAX = 1024;

/** The buffer starts this small and doubles, so small idle-sealed objects stay small. */
const BUFFER_INITIAL_SECTORS = 16;

/** Where a run of written volume sectors sits in an object's data area. */
export interface ObjectRun {
  volumeSector: number;
  lengthSectors: number;
  objectSector: number;
}

export interface SectorWrite {
  volumeSector: number;
  lengthSectors: number;
  /** Holds at least lengthSectors whole sectors from dataOffsetBytes. */
  data: Uint8Array;
  dataOffsetBytes: number;
}

export interface SealedLayout {
  sequence: number;
  entries: LogEntry[];
  zeroRanges: ZeroRange[];
  /** The whole log object: header, then the data of each entry in entry order. */
  objectBytes: Uint8Array;
  /** Final place of every entry's data, for the extent map. */
  runs: ObjectRun[];
}

interface SectorRange {
  firstSector: number;
  endSector: number;
}

export class OpenObject {
  readonly sequence: number;
  readonly capacitySectors: number;
  readonly #slotOfSector = new Map<number, number>();
  #buffer: Uint8Array;
  #slotsUsed = 0;
  #runCount = 0;
  #zeroRanges: SectorRange[] = [];

  constructor(options: { sequence: number; capacitySectors: number; reuseBuffer?: Uint8Array }) {
    assert(options.capacitySectors >= 1);
    this.sequence = options.sequence;
    this.capacitySectors = options.capacitySectors;
    this.#buffer = options.reuseBuffer ?? new Uint8Array(Math.min(BUFFER_INITIAL_SECTORS, options.capacitySectors) * SECTOR_SIZE_BYTES);
  }

  get isEmpty(): boolean {
    return this.#slotOfSector.size === 0 && this.#zeroRanges.length === 0;
  }

  get isFull(): boolean {
    return this.#slotsUsed === this.capacitySectors || this.#zeroRanges.length >= OPEN_OBJECT_ZERO_RANGES_MAX;
  }

  /** Memory the object's data holds (including slots of sectors later cut by zero ranges). */
  get bufferedBytes(): number {
    return this.#slotsUsed * SECTOR_SIZE_BYTES;
  }

  get liveSectorCount(): number {
    return this.#slotOfSector.size;
  }

  get entryCount(): number {
    return this.#runCount;
  }

  get zeroRangeCount(): number {
    return this.#zeroRanges.length;
  }

  /** The buffer, for the next open object once this one is sealed (sealing copies out). */
  releaseBuffer(): Uint8Array {
    return this.#buffer;
  }

  /** Whether the whole write fits without passing the slot or entry limits. */
  fits(volumeSector: number, lengthSectors: number): boolean {
    let newSectors = 0;
    let runDelta = 0;
    for (let sector = volumeSector; sector < volumeSector + lengthSectors; sector++) {
      if (this.#slotOfSector.has(sector)) continue;
      newSectors++;
      runDelta += this.#runDeltaOfAdding(sector, volumeSector);
    }
    return this.#slotsUsed + newSectors <= this.capacitySectors && this.#runCount + runDelta <= HEADER_ENTRIES_MAX;
  }

  /**
   * Copies sectors in, as many as fit from the start of the write. Returns where they went;
   * the runs' total length is the number of sectors written.
   */
  write(sectorWrite: SectorWrite): ObjectRun[] {
    const runs: ObjectRun[] = [];
    const { volumeSector, lengthSectors } = sectorWrite;
    for (let index = 0; index < lengthSectors; index++) {
      const sector = volumeSector + index;
      const slot = this.#slotFor(sector, volumeSector);
      if (slot === undefined) break;
      const sourceOffsetBytes = sectorWrite.dataOffsetBytes + index * SECTOR_SIZE_BYTES;
      this.#buffer.set(sectorWrite.data.subarray(sourceOffsetBytes, sourceOffsetBytes + SECTOR_SIZE_BYTES), slot * SECTOR_SIZE_BYTES);
      const last = runs.at(-1);
      if (last !== undefined && last.objectSector + last.lengthSectors === slot) last.lengthSectors++;
      else runs.push({ volumeSector: sector, lengthSectors: 1, objectSector: slot });
    }
    return runs;
  }

  /** Copies one sector's data (by its slot, as the extent map records it) into `target`. */
  copySector(slot: number, target: Uint8Array, targetOffsetBytes: number): void {
    assert(slot < this.#slotsUsed, 'slot is in use');
    const sourceOffsetBytes = slot * SECTOR_SIZE_BYTES;
    target.set(this.#buffer.subarray(sourceOffsetBytes, sourceOffsetBytes + SECTOR_SIZE_BYTES), targetOffsetBytes);
  }

  /** Records a range that reads as zeros; cuts this object's own sectors in it. */
  addZeroRange(volumeSector: number, lengthSectors: number): void {
    assert(lengthSectors > 0);
    assert(this.#zeroRanges.length < OPEN_OBJECT_ZERO_RANGES_MAX, 'the caller seals a full object first');
    this.#cutSectors(volumeSector, lengthSectors);
    this.#zeroRanges = insertRange(this.#zeroRanges, { firstSector: volumeSector, endSector: volumeSector + lengthSectors });
  }

  /** Flattens into address-ordered entries (adjacent sectors merged) and lays the data out. */
  seal(): SealedLayout {
    const sectors = [...this.#slotOfSector.keys()].sort((left, right) => left - right);
    const runs: ObjectRun[] = [];
    sectors.forEach((sector, objectSector) => {
      const last = runs.at(-1);
      if (last !== undefined && last.volumeSector + last.lengthSectors === sector) last.lengthSectors++;
      else runs.push({ volumeSector: sector, lengthSectors: 1, objectSector });
    });
    assert.equal(runs.length, this.#runCount, 'the tracked run count matches the flattened entries');
    assert(runs.length <= HEADER_ENTRIES_MAX);
    const entries = runs.map((run) => ({ addressBytes: run.volumeSector * SECTOR_SIZE_BYTES, sizeBytes: run.lengthSectors * SECTOR_SIZE_BYTES }));
    const objectBytes = new Uint8Array(HEADER_SIZE_BYTES + sectors.length * SECTOR_SIZE_BYTES);
    objectBytes.set(encodeLogHeader(entries), 0);
    sectors.forEach((sector, index) => {
      const slot = this.#slotOfSector.get(sector);
      assert(slot !== undefined);
      this.copySector(slot, objectBytes, HEADER_SIZE_BYTES + index * SECTOR_SIZE_BYTES);
    });
    const zeroRanges = this.#zeroRanges.map((range) => ({
      addressBytes: range.firstSector * SECTOR_SIZE_BYTES,
      sizeBytes: (range.endSector - range.firstSector) * SECTOR_SIZE_BYTES,
    }));
    return { sequence: this.sequence, entries, zeroRanges, objectBytes, runs };
  }

  #slotFor(sector: number, writeFirstSector: number): number | undefined {
    const existing = this.#slotOfSector.get(sector);
    if (existing !== undefined) return existing;
    const runDelta = this.#runDeltaOfAdding(sector, writeFirstSector);
    if (this.#slotsUsed === this.capacitySectors || this.#runCount + runDelta > HEADER_ENTRIES_MAX) return undefined;
    this.#ensureBufferSlots(this.#slotsUsed + 1);
    const slot = this.#slotsUsed++;
    this.#slotOfSector.set(sector, slot);
    this.#runCount += runDelta;
    return slot;
  }

  /**
   * How the run count changes when `sector` joins, during a write that adds its sectors in
   * ascending order from `writeFirstSector` (so every earlier sector of the write is present).
   */
  #runDeltaOfAdding(sector: number, writeFirstSector: number): number {
    const left = sector > writeFirstSector || this.#slotOfSector.has(sector - 1);
    const right = this.#slotOfSector.has(sector + 1);
    return 1 - (left ? 1 : 0) - (right ? 1 : 0);
  }

  #removeSector(sector: number): void {
    if (!this.#slotOfSector.delete(sector)) return;
    const left = this.#slotOfSector.has(sector - 1);
    const right = this.#slotOfSector.has(sector + 1);
    if (left && right) this.#runCount++;
    else if (!left && !right) this.#runCount--;
  }

  /** Cheap for huge ranges: walks whichever is smaller, the range or the live sectors. */
  #cutSectors(volumeSector: number, lengthSectors: number): void {
    const endSector = volumeSector + lengthSectors;
    if (lengthSectors <= this.#slotOfSector.size) {
      for (let sector = volumeSector; sector < endSector; sector++) this.#removeSector(sector);
      return;
    }
    const doomed = [...this.#slotOfSector.keys()].filter((sector) => sector >= volumeSector && sector < endSector);
    for (const sector of doomed) this.#removeSector(sector);
  }

  #ensureBufferSlots(slotCount: number): void {
    const neededBytes = slotCount * SECTOR_SIZE_BYTES;
    if (neededBytes <= this.#buffer.length) return;
    const grownBytes = Math.min(Math.max(neededBytes, this.#buffer.length * 2), this.capacitySectors * SECTOR_SIZE_BYTES);
    const grown = new Uint8Array(grownBytes);
    grown.set(this.#buffer.subarray(0, this.#slotsUsed * SECTOR_SIZE_BYTES));
    this.#buffer = grown;
  }
}

/** Inserts into a sorted list of disjoint, non-touching ranges, merging overlaps and neighbours. */
function insertRange(ranges: SectorRange[], added: SectorRange): SectorRange[] {
  const merged: SectorRange[] = [];
  let pending = { ...added };
  let placed = false;
  for (const range of ranges) {
    if (range.endSector < pending.firstSector) merged.push(range);
    else if (range.firstSector > pending.endSector) {
      if (!placed) merged.push(pending);
      placed = true;
      merged.push(range);
    } else {
      pending = { firstSector: Math.min(range.firstSector, pending.firstSector), endSector: Math.max(range.endSector, pending.endSector) };
    }
  }
  if (!placed) merged.push(pending);
  return merged;
}
