/**
 * Measures the extent map's memory and speed (DESIGN.md §4) on a 4 GiB volume:
 *   (a) 4 KiB random writes covering every sector once, in random order, a new sequence every
 *       1,024 writes (a write buffer sealing full 1,024-entry objects);
 *   (b) a sequential fill in 8 MiB objects, one 4 KiB write at a time;
 *   (c) the worst case: 4 KiB random writes over every sector, each from its own object.
 * For each: memoryUsageBytes() per GiB, the process heap delta per GiB after gc (V8 heap plus
 * ArrayBuffer memory), set ops/s, and 4 KiB lookup ops/s at random sectors.
 *
 * Run: node --import tsx --expose-gc scripts/measure-extent-map.ts [--seed N]
 */
import { SeededRandom } from '../daemon/clock.js';
import { parseArgs } from 'node:util';
import { CHUNK_SIZE_SECTORS, ExtentMap } from '../daemon/extent-map.js';
import { SECTOR_SIZE_BYTES } from '../logformat/limits.js';

const MIB_BYTES = 1024 * 1024;
const GIB_BYTES = 1024 * MIB_BYTES;
const VOLUME_SIZE_BYTES = 4 * GIB_BYTES;
const VOLUME_SIZE_SECTORS = VOLUME_SIZE_BYTES / SECTOR_SIZE_BYTES;
/** A log object holds at most this many writes (logformat HEADER_ENTRIES_MAX). */
const WRITES_PER_OBJECT = 1024;
const LOOKUP_COUNT = 1_000_000;

type WriteAt = (index: number) => { volumeSector: number; sequence: number; objectSector: number };

interface Scenario {
  name: string;
  writeAt: WriteAt;
}

/** mulberry32: seeded, so every run measures the same layout. */
/** Uniform floats in [0, 1) from the project's seeded generator, so a seed replays the same run. */
function randomFrom(seed: number): () => number {
  const random = new SeededRandom(seed);
  return () => random.nextFloat();
}

function shuffledSectors(random: () => number): Uint32Array {
  const order = new Uint32Array(VOLUME_SIZE_SECTORS);
  for (let index = 0; index < order.length; index++) order[index] = index;
  for (let index = order.length - 1; index > 0; index--) {
    const other = Math.floor(random() * (index + 1));
    const kept = order[index]!;
    order[index] = order[other]!;
    order[other] = kept;
  }
  return order;
}

function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('Run with node --expose-gc so heap figures are meaningful');
  gc();
  gc();
}

function heapBytes(): number {
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

function measure(scenario: Scenario, random: () => number): void {
  collectGarbage();
  const heapBeforeBytes = heapBytes();
  const map = new ExtentMap({ volumeSizeBytes: VOLUME_SIZE_BYTES });
  const setStartedMs = performance.now();
  for (let index = 0; index < VOLUME_SIZE_SECTORS; index++) map.set({ ...scenario.writeAt(index), lengthSectors: 1 });
  const setElapsedMs = performance.now() - setStartedMs;
  collectGarbage();
  const heapDeltaBytes = heapBytes() - heapBeforeBytes;

  const lookupSectors = Uint32Array.from({ length: LOOKUP_COUNT }, () => Math.floor(random() * VOLUME_SIZE_SECTORS));
  let runsSeen = 0;
  const lookupStartedMs = performance.now();
  for (const volumeSector of lookupSectors) runsSeen += map.lookup(volumeSector, 1).length;
  const lookupElapsedMs = performance.now() - lookupStartedMs;
  if (runsSeen !== LOOKUP_COUNT) throw new Error(`a 4 KiB lookup returned ${runsSeen} runs in total, expected ${LOOKUP_COUNT}`);

  const volumeSizeGib = VOLUME_SIZE_BYTES / GIB_BYTES;
  console.log(scenario.name);
  console.log(`  extents ${map.extentCount}, chunks ${map.chunkCount} (${map.denseChunkCount} dense)`);
  console.log(`  memoryUsageBytes: ${(map.memoryUsageBytes() / volumeSizeGib / MIB_BYTES).toFixed(3)} MiB per GiB`);
  console.log(`  heap delta after gc: ${(heapDeltaBytes / volumeSizeGib / MIB_BYTES).toFixed(3)} MiB per GiB`);
  console.log(`  set 4 KiB: ${Math.round(VOLUME_SIZE_SECTORS / (setElapsedMs / 1000)).toLocaleString('en')} ops/s`);
  console.log(`  lookup 4 KiB: ${Math.round(LOOKUP_COUNT / (lookupElapsedMs / 1000)).toLocaleString('en')} ops/s`);
}

function main(): void {
  const { values } = parseArgs({ options: { seed: { type: 'string', default: '1' } } });
  const seed = Number(values.seed);
  const random = randomFrom(seed);
  const order = shuffledSectors(random);
  console.log(`extent map on a ${VOLUME_SIZE_BYTES / GIB_BYTES} GiB volume (${VOLUME_SIZE_SECTORS} sectors), seed ${seed}`);
  const scenarios: Scenario[] = [
    {
      name: '(a) 4 KiB random writes, every sector once, a new sequence every 1,024 writes',
      writeAt: (index) => ({ volumeSector: order[index]!, sequence: 1 + Math.floor(index / WRITES_PER_OBJECT), objectSector: index % WRITES_PER_OBJECT }),
    },
    {
      name: '(b) sequential fill in 8 MiB objects',
      writeAt: (index) => ({ volumeSector: index, sequence: 1 + Math.floor(index / CHUNK_SIZE_SECTORS), objectSector: index % CHUNK_SIZE_SECTORS }),
    },
    {
      name: '(c) 4 KiB random writes, every sector once, each from its own object',
      writeAt: (index) => ({ volumeSector: order[index]!, sequence: 1 + index, objectSector: 0 }),
    },
  ];
  for (const scenario of scenarios) measure(scenario, random);
}

main();
