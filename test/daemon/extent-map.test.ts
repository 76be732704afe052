import { SeededRandom } from '../../daemon/clock.js';
import test from 'ava';
import { CHUNK_SIZE_SECTORS, ExtentMap, HOLE_SEQUENCE, type MapRun } from '../../daemon/extent-map.js';
import { SECTOR_SIZE_BYTES } from '../../logformat/limits.js';

const MIB_BYTES = 1024 * 1024;
const GIB_BYTES = 1024 * MIB_BYTES;
const TIB_BYTES = 1024 * GIB_BYTES;

function mapOf(volumeSizeSectors: number): ExtentMap {
  return new ExtentMap({ volumeSizeBytes: volumeSizeSectors * SECTOR_SIZE_BYTES });
}

function hole(volumeSector: number, lengthSectors: number): MapRun {
  return { volumeSector, lengthSectors, sequence: HOLE_SEQUENCE, objectSector: 0 };
}

/** mulberry32: a small seeded generator, so a failing layout can be replayed. */
/** Uniform floats in [0, 1) from the project's seeded generator, so a seed replays the same run. */
function randomFrom(seed: number): () => number {
  const random = new SeededRandom(seed);
  return () => random.nextFloat();
}

/** Every sector its own extent: each sector of the chunk from its own object. */
function fragment(map: ExtentMap, chunkIndex: number): void {
  for (let offsetSectors = 0; offsetSectors < CHUNK_SIZE_SECTORS; offsetSectors += 2) {
    map.set({ volumeSector: chunkIndex * CHUNK_SIZE_SECTORS + offsetSectors, lengthSectors: 1, sequence: 1 + offsetSectors, objectSector: 7 });
  }
}

test('a new map reads as one hole over the whole volume', (t) => {
  const map = mapOf(10_000);
  t.is(map.volumeSizeSectors, 10_000);
  t.deepEqual(map.lookup(0, 10_000), [hole(0, 10_000)]);
  t.is(map.extentCount, 0);
  t.deepEqual(map.lookup(5, 0), []);
});

test('lookup returns the run a set placed, clipped to the range, with holes around it', (t) => {
  const map = mapOf(10_000);
  map.set({ volumeSector: 100, lengthSectors: 8, sequence: 3, objectSector: 40 });
  t.deepEqual(map.lookup(96, 16), [hole(96, 4), { volumeSector: 100, lengthSectors: 8, sequence: 3, objectSector: 40 }, hole(108, 4)]);
  t.deepEqual(map.lookup(102, 2), [{ volumeSector: 102, lengthSectors: 2, sequence: 3, objectSector: 42 }]);
  t.is(map.extentCount, 1);
});

test('an overwrite in the middle of an extent splits it around the new run', (t) => {
  const map = mapOf(10_000);
  map.set({ volumeSector: 0, lengthSectors: 100, sequence: 1, objectSector: 0 });
  map.set({ volumeSector: 40, lengthSectors: 10, sequence: 2, objectSector: 5 });
  t.deepEqual(map.lookup(0, 100), [
    { volumeSector: 0, lengthSectors: 40, sequence: 1, objectSector: 0 },
    { volumeSector: 40, lengthSectors: 10, sequence: 2, objectSector: 5 },
    { volumeSector: 50, lengthSectors: 50, sequence: 1, objectSector: 50 },
  ]);
  t.is(map.extentCount, 3);
});

test('clear makes a range read as a hole, trimming and splitting the extents it cuts', (t) => {
  const map = mapOf(10_000);
  map.set({ volumeSector: 0, lengthSectors: 30, sequence: 1, objectSector: 0 });
  map.set({ volumeSector: 30, lengthSectors: 30, sequence: 2, objectSector: 0 });
  map.clear(20, 20);
  map.clear(50, 2);
  t.deepEqual(map.lookup(0, 70), [
    { volumeSector: 0, lengthSectors: 20, sequence: 1, objectSector: 0 },
    hole(20, 20),
    { volumeSector: 40, lengthSectors: 10, sequence: 2, objectSector: 10 },
    hole(50, 2),
    { volumeSector: 52, lengthSectors: 8, sequence: 2, objectSector: 22 },
    hole(60, 10),
  ]);
  map.clear(0, 10_000);
  t.deepEqual(map.lookup(0, 10_000), [hole(0, 10_000)]);
  t.is(map.extentCount, 0);
  t.is(map.chunkCount, 0);
});

test('writes that continue the same object are merged into one run, and holes next to holes into one hole', (t) => {
  const map = mapOf(10_000);
  for (let index = 0; index < 64; index++) map.set({ volumeSector: 200 + index, lengthSectors: 1, sequence: 9, objectSector: 1000 + index });
  t.is(map.extentCount, 1);
  // The same object but not the next object sector: two runs.
  map.set({ volumeSector: 264, lengthSectors: 1, sequence: 9, objectSector: 5000 });
  t.deepEqual(map.lookup(0, 300), [
    hole(0, 200),
    { volumeSector: 200, lengthSectors: 64, sequence: 9, objectSector: 1000 },
    { volumeSector: 264, lengthSectors: 1, sequence: 9, objectSector: 5000 },
    hole(265, 35),
  ]);
  // Filling the gap between two runs of one object joins all three.
  map.set({ volumeSector: 300, lengthSectors: 10, sequence: 4, objectSector: 0 });
  map.set({ volumeSector: 320, lengthSectors: 10, sequence: 4, objectSector: 20 });
  map.set({ volumeSector: 310, lengthSectors: 10, sequence: 4, objectSector: 10 });
  t.deepEqual(map.lookup(300, 30), [{ volumeSector: 300, lengthSectors: 30, sequence: 4, objectSector: 0 }]);
});

test('a run across chunk boundaries is stored once per chunk and looked up as one run', (t) => {
  const map = mapOf(4 * CHUNK_SIZE_SECTORS);
  const run = { volumeSector: CHUNK_SIZE_SECTORS - 5, lengthSectors: CHUNK_SIZE_SECTORS + 10, sequence: 6, objectSector: 100 };
  map.set(run);
  t.is(map.extentCount, 3);
  t.is(map.chunkCount, 3);
  t.deepEqual(map.lookup(run.volumeSector, run.lengthSectors), [run]);
  t.deepEqual(map.lookup(2 * CHUNK_SIZE_SECTORS - 1, 2), [{ volumeSector: 2 * CHUNK_SIZE_SECTORS - 1, lengthSectors: 2, sequence: 6, objectSector: 100 + CHUNK_SIZE_SECTORS + 4 }]);
  map.clear(CHUNK_SIZE_SECTORS, CHUNK_SIZE_SECTORS);
  t.is(map.chunkCount, 2);
  t.deepEqual(map.lookup(CHUNK_SIZE_SECTORS - 1, CHUNK_SIZE_SECTORS + 2), [
    { volumeSector: CHUNK_SIZE_SECTORS - 1, lengthSectors: 1, sequence: 6, objectSector: 104 },
    hole(CHUNK_SIZE_SECTORS, CHUNK_SIZE_SECTORS),
    { volumeSector: 2 * CHUNK_SIZE_SECTORS, lengthSectors: 1, sequence: 6, objectSector: 105 + CHUNK_SIZE_SECTORS },
  ]);
});

test('a fragmented chunk turns dense, and a long sequential overwrite turns it back into an extent list', (t) => {
  const map = mapOf(2 * CHUNK_SIZE_SECTORS);
  fragment(map, 1);
  t.is(map.denseChunkCount, 1);
  t.is(map.extentCount, CHUNK_SIZE_SECTORS / 2);
  t.deepEqual(map.lookup(CHUNK_SIZE_SECTORS + 10, 3), [
    { volumeSector: CHUNK_SIZE_SECTORS + 10, lengthSectors: 1, sequence: 11, objectSector: 7 },
    hole(CHUNK_SIZE_SECTORS + 11, 1),
    { volumeSector: CHUNK_SIZE_SECTORS + 12, lengthSectors: 1, sequence: 13, objectSector: 7 },
  ]);
  // Not the whole chunk, so the dense chunk itself takes the write and then decides.
  map.set({ volumeSector: CHUNK_SIZE_SECTORS, lengthSectors: CHUNK_SIZE_SECTORS - 100, sequence: 5000, objectSector: 0 });
  t.is(map.denseChunkCount, 0);
  t.is(map.extentCount, 1 + 50);
  t.deepEqual(map.lookup(CHUNK_SIZE_SECTORS, CHUNK_SIZE_SECTORS - 99), [
    { volumeSector: CHUNK_SIZE_SECTORS, lengthSectors: CHUNK_SIZE_SECTORS - 100, sequence: 5000, objectSector: 0 },
    { volumeSector: 2 * CHUNK_SIZE_SECTORS - 100, lengthSectors: 1, sequence: 1949, objectSector: 7 },
  ]);
});

test('clearing most of a dense chunk turns it back into an extent list', (t) => {
  const map = mapOf(CHUNK_SIZE_SECTORS);
  fragment(map, 0);
  t.is(map.denseChunkCount, 1);
  const denseBytes = map.memoryUsageBytes();
  map.clear(0, CHUNK_SIZE_SECTORS - 20);
  t.is(map.denseChunkCount, 0);
  t.is(map.extentCount, 10);
  t.true(map.memoryUsageBytes() < denseBytes);
  t.deepEqual(map.lookup(CHUNK_SIZE_SECTORS - 2, 2), [{ volumeSector: CHUNK_SIZE_SECTORS - 2, lengthSectors: 1, sequence: CHUNK_SIZE_SECTORS - 1, objectSector: 7 }, hole(CHUNK_SIZE_SECTORS - 1, 1)]);
});

test('a dense chunk holds sequences and object sectors that span more than 16 bits exactly', (t) => {
  const map = mapOf(CHUNK_SIZE_SECTORS);
  fragment(map, 0);
  const narrowBytes = map.memoryUsageBytes();
  const runs = [
    { volumeSector: 1, lengthSectors: 1, sequence: 0xffff_ffff, objectSector: 0xffff_ffff },
    { volumeSector: 3, lengthSectors: 2, sequence: 70_000, objectSector: 0 },
    { volumeSector: 9, lengthSectors: 1, sequence: 1, objectSector: 65_536 },
  ];
  for (const run of runs) map.set(run);
  t.is(map.denseChunkCount, 1);
  t.true(map.memoryUsageBytes() > narrowBytes, 'the columns widened');
  t.deepEqual(map.lookup(1, 1), [runs[0]!]);
  t.deepEqual(map.lookup(3, 2), [runs[1]!]);
  t.deepEqual(map.lookup(9, 1), [runs[2]!]);
  t.deepEqual(map.lookup(10, 1), [{ volumeSector: 10, lengthSectors: 1, sequence: 11, objectSector: 7 }]);
});

test('grow extends the volume as holes, keeps the data, and refuses to shrink', (t) => {
  const map = mapOf(100);
  map.set({ volumeSector: 90, lengthSectors: 10, sequence: 2, objectSector: 0 });
  t.throws(() => map.set({ volumeSector: 100, lengthSectors: 1, sequence: 2, objectSector: 0 }), { code: 'ERR_ASSERTION' });
  map.grow(20 * TIB_BYTES);
  t.is(map.volumeSizeSectors, (20 * TIB_BYTES) / SECTOR_SIZE_BYTES);
  map.set({ volumeSector: 100, lengthSectors: 10, sequence: 2, objectSector: 10 });
  t.deepEqual(map.lookup(80, 40), [hole(80, 10), { volumeSector: 90, lengthSectors: 20, sequence: 2, objectSector: 0 }, hole(110, 10)]);
  t.throws(() => map.grow(GIB_BYTES), { code: 'ERR_ASSERTION' });
});

test('sectors past 2^32 map like any other', (t) => {
  const map = new ExtentMap({ volumeSizeBytes: 64 * TIB_BYTES });
  const volumeSector = 2 ** 32 + 12_345;
  map.set({ volumeSector, lengthSectors: 3 * CHUNK_SIZE_SECTORS, sequence: 0xffff_ffff, objectSector: 0xffff_ffff - 3 * CHUNK_SIZE_SECTORS + 1 });
  t.deepEqual(map.lookup(volumeSector - 1, 2), [hole(volumeSector - 1, 1), { volumeSector, lengthSectors: 1, sequence: 0xffff_ffff, objectSector: 0xffff_ffff - 3 * CHUNK_SIZE_SECTORS + 1 }]);
  t.deepEqual(map.lookup(map.volumeSizeSectors - 1, 1), [hole(map.volumeSizeSectors - 1, 1)]);
});

test('set rejects sequences and object sectors outside u32 and ranges past the volume end', (t) => {
  const map = mapOf(100);
  t.throws(() => map.set({ volumeSector: 0, lengthSectors: 1, sequence: HOLE_SEQUENCE, objectSector: 0 }), { code: 'ERR_ASSERTION' });
  t.throws(() => map.set({ volumeSector: 0, lengthSectors: 1, sequence: 2 ** 32, objectSector: 0 }), { code: 'ERR_ASSERTION' });
  t.throws(() => map.set({ volumeSector: 0, lengthSectors: 2, sequence: 1, objectSector: 0xffff_ffff }), { code: 'ERR_ASSERTION' });
  t.throws(() => map.set({ volumeSector: 99, lengthSectors: 2, sequence: 1, objectSector: 0 }), { code: 'ERR_ASSERTION' });
  t.throws(() => map.lookup(-1, 2), { code: 'ERR_ASSERTION' });
  t.throws(() => new ExtentMap({ volumeSizeBytes: 4095 }), { code: 'ERR_ASSERTION' });
});

test('clearing a whole 16 TiB volume costs pages and touched chunks, not sectors', (t) => {
  const map = new ExtentMap({ volumeSizeBytes: 16 * TIB_BYTES });
  const stepSectors = 997 * CHUNK_SIZE_SECTORS + 3;
  for (let volumeSector = 0; volumeSector + 8 <= map.volumeSizeSectors; volumeSector += stepSectors) {
    map.set({ volumeSector, lengthSectors: 8, sequence: 1, objectSector: 0 });
  }
  t.true(map.chunkCount > 2000);
  const startedMs = performance.now();
  map.clear(0, map.volumeSizeSectors);
  const lookedUp = map.lookup(0, map.volumeSizeSectors);
  const elapsedMs = performance.now() - startedMs;
  t.log(`clear + lookup of 2^32 sectors took ${elapsedMs.toFixed(1)} ms`);
  // One step per sector would be 2^32 steps: minutes, not this.
  t.true(elapsedMs < 2000);
  t.deepEqual(lookedUp, [hole(0, map.volumeSizeSectors)]);
  t.is(map.chunkCount, 0);
  t.is(map.extentCount, 0);
});

test('forEachRun visits exactly the mapped runs that lookup reports, in address order', (t) => {
  const seed = Number(process.env['EXTENT_MAP_SEED'] ?? Date.now() % 2 ** 31);
  t.log(`seed ${seed} (replay with EXTENT_MAP_SEED=${seed})`);
  const random = randomFrom(seed);
  const map = mapOf(5 * CHUNK_SIZE_SECTORS + 77);
  for (let index = 0; index < 3000; index++) {
    const volumeSector = Math.floor(random() * map.volumeSizeSectors);
    const lengthSectors = Math.min(1 + Math.floor(random() * (random() < 0.9 ? 4 : 3000)), map.volumeSizeSectors - volumeSector);
    if (random() < 0.1) map.clear(volumeSector, lengthSectors);
    else map.set({ volumeSector, lengthSectors, sequence: 1 + Math.floor(random() * 5), objectSector: Math.floor(random() * 3) * lengthSectors });
  }
  const visited: MapRun[] = [];
  map.forEachRun((run) => visited.push(run));
  t.true(visited.length > 20, `only ${visited.length} runs: the workload must fragment the map`);
  t.deepEqual(visited, map.lookup(0, map.volumeSizeSectors).filter((run) => run.sequence !== HOLE_SEQUENCE));
});

test('4 KiB random writes over every sector of 1 GiB stay under 2 MiB of map', (t) => {
  const seed = Number(process.env['EXTENT_MAP_SEED'] ?? Date.now() % 2 ** 31);
  t.log(`seed ${seed} (replay with EXTENT_MAP_SEED=${seed})`);
  const random = randomFrom(seed);
  const map = new ExtentMap({ volumeSizeBytes: GIB_BYTES });
  const order = Uint32Array.from({ length: map.volumeSizeSectors }, (_, index) => index);
  for (let index = order.length - 1; index > 0; index--) {
    const other = Math.floor(random() * (index + 1));
    [order[index], order[other]] = [order[other]!, order[index]!];
  }
  // Every write from its own object: sequences span far more than 16 bits (the worst case).
  order.forEach((volumeSector, index) => map.set({ volumeSector, lengthSectors: 1, sequence: 1 + index, objectSector: 0 }));
  t.is(map.extentCount, map.volumeSizeSectors);
  t.log(`${(map.memoryUsageBytes() / MIB_BYTES).toFixed(3)} MiB for 1 GiB, every sector its own extent`);
  t.true(map.memoryUsageBytes() <= 2 * MIB_BYTES);
});

test('sequential 8 MiB objects over 1 GiB stay under 0.1 MiB of map', (t) => {
  const map = new ExtentMap({ volumeSizeBytes: GIB_BYTES });
  for (let volumeSector = 0; volumeSector < map.volumeSizeSectors; volumeSector++) {
    map.set({ volumeSector, lengthSectors: 1, sequence: 1 + Math.floor(volumeSector / CHUNK_SIZE_SECTORS), objectSector: volumeSector % CHUNK_SIZE_SECTORS });
  }
  t.is(map.extentCount, map.volumeSizeSectors / CHUNK_SIZE_SECTORS);
  t.log(`${(map.memoryUsageBytes() / 1024).toFixed(1)} KiB for 1 GiB of sequential data`);
  t.true(map.memoryUsageBytes() <= 0.1 * MIB_BYTES);
});
