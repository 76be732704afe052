/**
 * Engine problems the simulator found, each as the smallest test that shows it. They are
 * `test.failing`: they pass while the problem is there, and ava reports them the day the
 * engine is fixed, so the marker can be removed. docs/SIMULATION.md "Findings" has the
 * analysis and the proposed fixes.
 */
import test from 'ava';
import pino from 'pino';
import { ManualClock, SeededRandom } from '../../daemon/clock.js';
import { openVolume } from '../../daemon/open-volume.js';
import { StoreError } from '../../store/errors.js';
import { MemoryStore } from '../../store/memory-store.js';
import type { GetOptions, ListOptions, ObjectInfo, ObjectStore, PutOptions } from '../../store/object-store.js';
import { settle } from './sim-clock.js';

const VOLUME_SIZE_BYTES = 1024 * 1024;
const SECTOR_BYTES = 4096;
const CONFIG = { targetObjectSizeBytes: 64 * 1024, idleSealMs: 60_000, readCacheBytes: 0, retryBaseDelayMs: 100, retryMaxDelayMs: 1000 };

/** The bucket as one daemon process sees it: puts of chosen keys are held (in flight) until landed by hand. */
class ProcessView implements ObjectStore {
  readonly description = 'memory://';
  readonly #bucket: MemoryStore;
  readonly #held = new Map<string, () => Promise<void>>();
  holdPuts = false;
  failGets = false;
  /** LIST pages still to fail (each throws a retryable 503). */
  failListPages = 0;
  /** The first DELETE of each of these keys times out for the caller but lands later, by hand. */
  readonly lateDeleteKeys = new Set<string>();
  readonly #lateDeletes: (() => Promise<void>)[] = [];

  constructor(bucket: MemoryStore) {
    this.#bucket = bucket;
  }

  /** The held PUT of `key` lands now (its sender may be long dead). */
  async land(key: string): Promise<void> {
    await this.#held.get(key)?.();
  }

  put(key: string, body: Uint8Array, options?: PutOptions): Promise<void> {
    if (!this.holdPuts) return this.#bucket.put(key, body, options);
    this.#held.set(key, () => this.#bucket.put(key, body, options));
    return new Promise(() => {});
  }

  get(key: string, options?: GetOptions): Promise<Uint8Array> {
    if (this.failGets) return Promise.reject(new StoreError('ERR_STORE_UNAVAILABLE', 'injected 503'));
    return this.#bucket.get(key, options);
  }

  head(key: string): Promise<ObjectInfo> {
    return this.#bucket.head(key);
  }

  async *list(options?: ListOptions): AsyncIterable<ObjectInfo> {
    if (this.failListPages > 0) {
      this.failListPages--;
      throw new StoreError('ERR_STORE_UNAVAILABLE', 'injected 503 on a LIST page');
    }
    yield* this.#bucket.list(options);
  }

  delete(key: string): Promise<void> {
    if (!this.lateDeleteKeys.delete(key)) return this.#bucket.delete(key);
    this.#lateDeletes.push(() => this.#bucket.delete(key));
    return Promise.reject(new StoreError('ERR_STORE_UNAVAILABLE', 'no answer before the request timeout'));
  }

  /** The DELETEs that timed out land now. */
  async landLateDeletes(): Promise<void> {
    for (const land of this.#lateDeletes.splice(0)) await land();
  }

  async close(): Promise<void> {}
}

function sectorOf(tag: number): Uint8Array {
  return new Uint8Array(SECTOR_BYTES).fill(tag);
}

async function start(view: ProcessView, clock: ManualClock, seed: number) {
  return openVolume({ store: view, clock, random: new SeededRandom(seed), logger: pino({ level: 'silent' }), config: CONFIG, sizeBytes: VOLUME_SIZE_BYTES });
}

/** Settles `promise` while moving the clock on, so retries with backoff can happen. */
async function drive<T>(promise: Promise<T>, clock: ManualClock): Promise<T> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let round = 0; round < 1000 && !settled; round++) {
    await settle();
    clock.advance(1000);
  }
  return promise;
}

test.failing('start-up survives a LIST page that fails once, as it survives any other failed request', async (t) => {
  const clock = new ManualClock();
  const bucket = new MemoryStore();
  const first = await start(new ProcessView(bucket), clock, 1);
  await first.write(0, sectorOf(5), { fua: false });
  await first.close();
  const view = new ProcessView(bucket);
  view.failListPages = 1;
  // Today: openVolume rejects with the raw ERR_STORE_UNAVAILABLE of the LIST.
  const volume = await drive(start(view, clock, 2), clock);
  t.is((await volume.read(0, SECTOR_BYTES))[0], 5);
});

test.failing('a read waiting to retry a failed GET fails with ERR_VOLUME_ABANDONED when the volume is abandoned', async (t) => {
  const clock = new ManualClock();
  const view = new ProcessView(new MemoryStore());
  const volume = await start(view, clock, 1);
  await volume.write(0, sectorOf(7), { fua: false });
  await volume.flush();
  view.failGets = true;
  const reading = volume.read(0, SECTOR_BYTES);
  reading.catch(() => {});
  await settle();
  volume.abandon();
  // Today: SleepCancelledError, without a code, so the NBD server can only answer EIO.
  await t.throwsAsync(reading, { code: 'ERR_VOLUME_ABANDONED' });
});

test.failing('a PUT of a crashed daemon that lands after the next daemon recovered never replaces data that daemon flushed', async (t) => {
  const bucket = new MemoryStore();
  const clock = new ManualClock();
  // Daemon A stores object 1, then seals objects 2 and 3 whose PUTs are in flight when it dies.
  const viewA = new ProcessView(bucket);
  const a = await start(viewA, clock, 1);
  await a.write(0, sectorOf(1), { fua: false });
  await a.flush();
  viewA.holdPuts = true;
  await a.write(0, sectorOf(2), { fua: false });
  void a.flush().catch(() => {});
  await a.write(0, sectorOf(3), { fua: false });
  void a.flush().catch(() => {});
  await settle();
  a.abandon();
  // Daemon B recovers object 1 (objects 2 and 3 are not there), writes and FLUSHes its own object 2.
  const b = await start(new ProcessView(bucket), clock, 2);
  await b.write(0, sectorOf(4), { fua: false });
  await b.flush();
  // A's PUT of object 3 (sealed before the crash) lands now; A's object 2 never does. B dies idle.
  await viewA.land('0000000000000003');
  b.abandon();
  // Daemon C replays 1 (A), 2 (B), 3 (A): A's stale sector replaces what B flushed.
  const c = await start(new ProcessView(bucket), clock, 3);
  const sector = await c.read(0, SECTOR_BYTES);
  t.is(sector[0], 4, 'the sector B flushed');
});

test.failing('a DELETE of recovery that times out and lands late never removes a log object written after it', async (t) => {
  const bucket = new MemoryStore();
  const clock = new ManualClock();
  const a = await start(new ProcessView(bucket), clock, 1);
  for (const tag of [1, 2, 3]) {
    await a.write(0, sectorOf(tag), { fua: false });
    await a.flush();
  }
  await a.close();
  // Object 2 is lost (it never landed before a crash, say): recovery must archive object 3.
  await bucket.delete('0000000000000002');
  const viewB = new ProcessView(bucket);
  viewB.lateDeleteKeys.add('0000000000000003');
  const b = await drive(start(viewB, clock, 2), clock);
  // B serves from object 1 and writes its own objects 2 and 3.
  for (const tag of [7, 8]) {
    await b.write(0, sectorOf(tag), { fua: false });
    await b.flush();
  }
  // The archive's first DELETE of the old object 3, which timed out, lands now.
  await viewB.landLateDeletes();
  b.abandon();
  const c = await start(new ProcessView(bucket), clock, 3);
  const sector = await c.read(0, SECTOR_BYTES);
  t.is(sector[0], 8, 'the sector B flushed last');
});
