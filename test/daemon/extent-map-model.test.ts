import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { CHUNK_SIZE_SECTORS, ExtentMap, HOLE_SEQUENCE, type MapRun } from '../../daemon/extent-map.js';
import { SECTOR_SIZE_BYTES } from '../../logformat/limits.js';

/** Two whole chunks and a partial third, so ranges cross chunk boundaries and the volume end. */
const VOLUME_SIZE_SECTORS = 2 * CHUNK_SIZE_SECTORS + 300;
const U32_MAX = 0xffff_ffff;

/** The obvious map: one sequence and one object sector per sector. */
class NaiveMap {
  readonly sequences = new Uint32Array(VOLUME_SIZE_SECTORS);
  readonly objectSectors = new Uint32Array(VOLUME_SIZE_SECTORS);

  set(options: { volumeSector: number; lengthSectors: number; sequence: number; objectSector: number }): void {
    for (let offsetSectors = 0; offsetSectors < options.lengthSectors; offsetSectors++) {
      this.sequences[options.volumeSector + offsetSectors] = options.sequence;
      this.objectSectors[options.volumeSector + offsetSectors] = options.objectSector + offsetSectors;
    }
  }

  clear(volumeSector: number, lengthSectors: number): void {
    this.sequences.fill(HOLE_SEQUENCE, volumeSector, volumeSector + lengthSectors);
    this.objectSectors.fill(0, volumeSector, volumeSector + lengthSectors);
  }

  lookup(volumeSector: number, lengthSectors: number): MapRun[] {
    const runs: MapRun[] = [];
    for (let sector = volumeSector; sector < volumeSector + lengthSectors; sector++) {
      const sequence = this.sequences[sector]!;
      const objectSector = sequence === HOLE_SEQUENCE ? 0 : this.objectSectors[sector]!;
      const last = runs.at(-1);
      const continues = last !== undefined && last.sequence === sequence && (sequence === HOLE_SEQUENCE || last.objectSector + last.lengthSectors === objectSector);
      if (continues) last.lengthSectors++;
      else runs.push({ volumeSector: sector, lengthSectors: 1, sequence, objectSector });
    }
    return runs;
  }

  /** Maximal mapped runs counted chunk by chunk: what the map reports as extentCount. */
  extentCount(): number {
    let count = 0;
    for (let chunkStartSector = 0; chunkStartSector < VOLUME_SIZE_SECTORS; chunkStartSector += CHUNK_SIZE_SECTORS) {
      const lengthSectors = Math.min(CHUNK_SIZE_SECTORS, VOLUME_SIZE_SECTORS - chunkStartSector);
      count += this.lookup(chunkStartSector, lengthSectors).filter((run) => run.sequence !== HOLE_SEQUENCE).length;
    }
    return count;
  }
}

type Operation =
  | { kind: 'set'; volumeSector: number; lengthSectors: number; sequence: number; objectSector: number }
  | { kind: 'append'; lengthSectors: number }
  /** Single-sector writes every `strideSectors` from `volumeSector`, each its own run: fragments a chunk fast. */
  | { kind: 'scatter'; volumeSector: number; strideSectors: number; count: number; sequence: number }
  | { kind: 'clear'; volumeSector: number; lengthSectors: number }
  | { kind: 'lookup'; volumeSector: number; lengthSectors: number };

// noBias: fast-check's bias toward small and edge integers would pile writes onto a few sectors.
const sectorArbitrary = fc.noBias(fc.oneof(
  { weight: 1, arbitrary: fc.integer({ min: 0, max: VOLUME_SIZE_SECTORS - 1 }) },
  // A hot chunk gets enough small writes to turn dense.
  { weight: 6, arbitrary: fc.integer({ min: CHUNK_SIZE_SECTORS, max: 2 * CHUNK_SIZE_SECTORS - 1 }) },
  { weight: 1, arbitrary: fc.integer({ min: CHUNK_SIZE_SECTORS - 6, max: CHUNK_SIZE_SECTORS + 6 }) },
));
/** Mostly small, so a chunk fragments; at `longWeight` against 63, long enough to cover whole chunks. */
function lengthArbitrary(longWeight: number): fc.Arbitrary<number> {
  return fc.oneof(
    { weight: 60, arbitrary: fc.integer({ min: 1, max: 4 }) },
    { weight: 3, arbitrary: fc.integer({ min: 1, max: 80 }) },
    { weight: longWeight, arbitrary: fc.integer({ min: 1, max: VOLUME_SIZE_SECTORS }) },
  );
}

interface Weather {
  /** Weight (against 40) of values that force wide columns. */
  extremeWeight: number;
  /** Weight (against 63) of writes and clears spanning whole chunks. */
  longWeight: number;
}

/**
 * Values that keep a chunk's columns 16 bits wide, with extremes (sequences near 2^32, object
 * sectors past 2^16) now and then: without extremes or long writes chunks turn dense soonest,
 * with them dense chunks must rebias, widen and turn back into lists.
 */
function operationArbitrary(weather: Weather): fc.Arbitrary<Operation> {
  const { extremeWeight } = weather;
  const length = lengthArbitrary(weather.longWeight);
  const sequence = fc.noBias(fc.oneof(
    { weight: 10, arbitrary: fc.integer({ min: 1, max: 3 }) },
    { weight: 30, arbitrary: fc.integer({ min: 1, max: 60_000 }) },
    { weight: extremeWeight, arbitrary: fc.integer({ min: U32_MAX - 3, max: U32_MAX }) },
    { weight: extremeWeight, arbitrary: fc.integer({ min: 1, max: U32_MAX }) },
  ));
  const objectSector = fc.noBias(fc.oneof(
    { weight: 40, arbitrary: fc.integer({ min: 0, max: 4_000 }) },
    { weight: extremeWeight, arbitrary: fc.integer({ min: 65_530, max: 65_540 }) },
    { weight: extremeWeight, arbitrary: fc.integer({ min: 0, max: U32_MAX - VOLUME_SIZE_SECTORS }) },
  ));
  return fc.oneof(
    { weight: 8, arbitrary: fc.record({ kind: fc.constant('set' as const), volumeSector: sectorArbitrary, lengthSectors: length, sequence, objectSector }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('append' as const), lengthSectors: length }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('scatter' as const), volumeSector: sectorArbitrary, strideSectors: fc.integer({ min: 2, max: 3 }), count: fc.integer({ min: 1, max: 400 }), sequence }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('clear' as const), volumeSector: sectorArbitrary, lengthSectors: length }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('lookup' as const), volumeSector: sectorArbitrary, lengthSectors: lengthArbitrary(6) }) },
  );
}

const operationsArbitrary = fc.oneof(
  ...[
    { extremeWeight: 0, longWeight: 0 },
    { extremeWeight: 1, longWeight: 0 },
    { extremeWeight: 1, longWeight: 1 },
    { extremeWeight: 10, longWeight: 3 },
  ].map((weather) => fc.array(operationArbitrary(weather), { maxLength: 4000, size: 'max' })),
);

function clip(volumeSector: number, lengthSectors: number): number {
  return Math.min(lengthSectors, VOLUME_SIZE_SECTORS - volumeSector);
}

test('the map answers every lookup like a per-sector array under random set, clear and lookup', (t) => {
  const seed = Number(process.env['EXTENT_MAP_SEED'] ?? Date.now() % 2 ** 31);
  t.log(`seed ${seed} (replay with EXTENT_MAP_SEED=${seed})`);
  let runsWithDenseChunks = 0;
  let operationCount = 0;
  fc.assert(
    fc.property(operationsArbitrary, (operations) => {
      const map = new ExtentMap({ volumeSizeBytes: VOLUME_SIZE_SECTORS * SECTOR_SIZE_BYTES });
      const naive = new NaiveMap();
      let sawDenseChunk = false;
      let lastSet = { volumeSector: 0, lengthSectors: 1, sequence: 1, objectSector: 0 };
      for (const operation of operations) {
        operationCount++;
        if (operation.kind === 'scatter') {
          for (let index = 0; index < operation.count; index++) {
            const write = { volumeSector: operation.volumeSector + index * operation.strideSectors, lengthSectors: 1, sequence: Math.min(operation.sequence + index, U32_MAX), objectSector: index };
            if (write.volumeSector >= VOLUME_SIZE_SECTORS) break;
            map.set(write);
            naive.set(write);
          }
        } else if (operation.kind === 'set' || operation.kind === 'append') {
          const base = operation.kind === 'set' ? operation : { ...lastSet, volumeSector: lastSet.volumeSector + lastSet.lengthSectors, objectSector: lastSet.objectSector + lastSet.lengthSectors };
          const volumeSector = base.volumeSector % VOLUME_SIZE_SECTORS;
          const lengthSectors = Math.min(clip(volumeSector, operation.lengthSectors), U32_MAX - base.objectSector + 1);
          if (lengthSectors < 1) continue; // an append past the largest object sector
          lastSet = { volumeSector, lengthSectors, sequence: base.sequence, objectSector: base.objectSector };
          map.set(lastSet);
          naive.set(lastSet);
        } else if (operation.kind === 'clear') {
          const lengthSectors = clip(operation.volumeSector, operation.lengthSectors);
          map.clear(operation.volumeSector, lengthSectors);
          naive.clear(operation.volumeSector, lengthSectors);
        } else {
          const lengthSectors = clip(operation.volumeSector, operation.lengthSectors);
          assert.deepEqual(map.lookup(operation.volumeSector, lengthSectors), naive.lookup(operation.volumeSector, lengthSectors));
        }
        sawDenseChunk ||= map.denseChunkCount > 0;
      }
      assert.deepEqual(map.lookup(0, VOLUME_SIZE_SECTORS), naive.lookup(0, VOLUME_SIZE_SECTORS));
      assert.equal(map.extentCount, naive.extentCount());
      if (sawDenseChunk) runsWithDenseChunks++;
    }),
    // Shrinking thousands of operations can take minutes: report what was found within the limit.
    // Passing runs take a few seconds, so hitting the limit means a failure was being shrunk.
    { seed, numRuns: 60, interruptAfterTimeLimit: 40_000, markInterruptAsFailure: true },
  );
  t.log(`${operationCount} operations; ${runsWithDenseChunks} of the runs made a chunk dense`);
  t.true(runsWithDenseChunks > 0, 'the random writes made at least one chunk dense');
});
