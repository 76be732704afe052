/**
 * Model-based test of the engine: random writes (512-byte and 4 KiB aligned), reads,
 * flushes, trims, write-zeroes, FUA writes, pauses and crashes, against a byte array.
 *
 * The store completes puts after random delays (so in random order), fails some and loses
 * the acknowledgement of others. A crash abandons the volume, settles every pending put at
 * random (landed or not) and reopens the volume on the same bucket. Invariants checked:
 * - every read returns what the model holds (read-your-writes, wherever the data sits);
 * - after a crash the volume equals the model as it was after some request at or after
 *   the last completed FLUSH / FUA (prefix recovery; object boundaries fall between
 *   requests because no request here is larger than an object);
 * - after close and reopen it equals the model exactly.
 *
 * Replay a failure with LSVD_TEST_SEED=<seed printed by the test>.
 */
import test from 'ava';
import fc from 'fast-check';
import { MemoryStore } from '../../store/memory-store.js';
import { RealClock, SeededRandom } from '../../daemon/clock.js';
import { openVolume } from '../../daemon/open-volume.js';
import type { Volume } from '../../daemon/volume.js';
import type { VolumeConfig } from '../../daemon/volume-config.js';
import { ChaosStore, sleep } from './helpers/stores.js';
import { KIB, pattern, seedFromEnvironment, silentLogger } from './helpers/world.js';

const VOLUME_SIZE_BYTES = 256 * KIB;
const CONFIG: Partial<VolumeConfig> = {
  targetObjectSizeBytes: 16 * KIB,
  idleSealMs: 3,
  unuploadedBytesMax: 64 * KIB,
  readCacheBytes: 32 * KIB,
  readRetryTimeoutMs: 5000,
  retryBaseDelayMs: 1,
  retryMaxDelayMs: 8,
};
/** Writes stay within four sectors even when unaligned, so no request spans two objects. */
const WRITE_MAX_BYTES = 12 * KIB;

type Operation =
  | { kind: 'write'; offsetUnits: number; lengthUnits: number; aligned: boolean; fua: boolean }
  | { kind: 'trim' | 'zero'; offsetUnits: number; lengthUnits: number; aligned: boolean; fua: boolean }
  | { kind: 'read'; offsetUnits: number; lengthUnits: number; aligned: boolean }
  | { kind: 'flush' }
  | { kind: 'pause'; delayMs: number }
  | { kind: 'crash' };

const span = { offsetUnits: fc.nat(1023), lengthUnits: fc.integer({ min: 1, max: 600 }), aligned: fc.boolean() };
const operationArbitrary: fc.Arbitrary<Operation> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('write' as const), ...span, fua: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom('trim' as const, 'zero' as const), ...span, fua: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('read' as const), ...span }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('flush' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('pause' as const), delayMs: fc.integer({ min: 0, max: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('crash' as const) }) },
);

/** Byte range of an operation inside the volume; writes are capped at WRITE_MAX_BYTES. */
function rangeOf(operation: { offsetUnits: number; lengthUnits: number; aligned: boolean }, maxBytes: number): { offsetBytes: number; lengthBytes: number } {
  const unitBytes = operation.aligned ? 4096 : 512;
  const offsetBytes = (operation.offsetUnits * unitBytes) % VOLUME_SIZE_BYTES;
  const lengthBytes = Math.min(operation.lengthUnits * unitBytes, VOLUME_SIZE_BYTES - offsetBytes, Math.floor(maxBytes / unitBytes) * unitBytes);
  return { offsetBytes, lengthBytes };
}

class Run {
  readonly bucket = new MemoryStore();
  readonly random: SeededRandom;
  model = new Uint8Array(VOLUME_SIZE_BYTES);
  /** Model states since the last durable point; history[0] is durable. */
  history: Uint8Array[] = [new Uint8Array(VOLUME_SIZE_BYTES)];
  chaos!: ChaosStore;
  volume!: Volume;
  crashes = 0;

  constructor(seed: number) {
    this.random = new SeededRandom(seed);
  }

  async open(sizeBytes?: number): Promise<void> {
    this.chaos = new ChaosStore({ inner: this.bucket, random: this.random, putDelayMaxMs: 3, putFailureRate: 0.05, lostAckRate: 0.05 });
    this.volume = await openVolume({
      store: this.chaos,
      clock: new RealClock(),
      random: new SeededRandom(this.random.nextInt(1 << 30)),
      logger: silentLogger(),
      config: CONFIG,
      ...(sizeBytes === undefined ? {} : { sizeBytes }),
    });
  }

  async image(): Promise<Uint8Array> {
    return this.volume.read(0, VOLUME_SIZE_BYTES);
  }

  changed(): void {
    this.history.push(this.model.slice());
  }

  durable(): void {
    this.history = [this.model.slice()];
  }

  async apply(operation: Operation, index: number): Promise<string | undefined> {
    const { volume } = this;
    switch (operation.kind) {
      case 'write': {
        const { offsetBytes, lengthBytes } = rangeOf(operation, WRITE_MAX_BYTES);
        const data = pattern({ lengthBytes, tag: index * 7919 + this.crashes });
        await volume.write(offsetBytes, data, { fua: operation.fua });
        this.model.set(data, offsetBytes);
        if (operation.fua) this.durable();
        else this.changed();
        return undefined;
      }
      case 'trim':
      case 'zero': {
        const { offsetBytes, lengthBytes } = rangeOf(operation, VOLUME_SIZE_BYTES);
        if (operation.kind === 'trim') await volume.trim(offsetBytes, lengthBytes, { fua: operation.fua });
        else await volume.writeZeroes(offsetBytes, lengthBytes, { fua: operation.fua, noHole: false });
        this.model.fill(0, offsetBytes, offsetBytes + lengthBytes);
        if (operation.fua) this.durable();
        else this.changed();
        return undefined;
      }
      case 'read': {
        const { offsetBytes, lengthBytes } = rangeOf(operation, VOLUME_SIZE_BYTES);
        const bytes = await volume.read(offsetBytes, lengthBytes);
        if (Buffer.compare(bytes, this.model.subarray(offsetBytes, offsetBytes + lengthBytes)) !== 0) return `read of ${lengthBytes} bytes at ${offsetBytes} differs from the model`;
        return undefined;
      }
      case 'flush':
        await volume.flush();
        this.durable();
        return undefined;
      case 'pause':
        await sleep(operation.delayMs);
        return undefined;
      case 'crash':
        return this.crash();
    }
  }

  async crash(): Promise<string | undefined> {
    this.volume.abandon();
    await this.chaos.crash();
    this.crashes++;
    await this.open();
    const recovered = await this.image();
    const match = this.history.findLastIndex((state) => Buffer.compare(state, recovered) === 0);
    if (match === -1) return `after crash ${this.crashes} the volume matches no state since the last flush (${this.history.length} candidates)`;
    this.model = this.history[match]?.slice() ?? this.model;
    this.durable();
    return undefined;
  }
}

test('random operations and crashes on a chaotic store always match the byte-array model', async (t) => {
  const seed = seedFromEnvironment('LSVD_TEST_SEED');
  t.log(`seed ${seed} (replay with LSVD_TEST_SEED=${seed})`);
  let runs = 0;
  let crashes = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(operationArbitrary, { minLength: 10, maxLength: 50 }), fc.integer({ min: 1, max: 1 << 30 }), async (operations, runSeed) => {
      const run = new Run(runSeed);
      await run.open(VOLUME_SIZE_BYTES);
      try {
        for (const [index, operation] of operations.entries()) {
          const problem = await run.apply(operation, index);
          if (problem !== undefined) throw new Error(`operation ${index} (${JSON.stringify(operation)}): ${problem}`);
        }
        await run.volume.close();
        await run.open();
        if (Buffer.compare(await run.image(), run.model) !== 0) throw new Error('after close and reopen the volume differs from the model');
        await run.volume.close();
      } finally {
        run.volume.abandon();
        runs++;
        crashes += run.crashes;
      }
    }),
    { seed, numRuns: 150, endOnFailure: true },
  );
  t.log(`${runs} runs, ${crashes} crashes`);
  t.pass();
});
