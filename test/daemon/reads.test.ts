import test from 'ava';
import { formatLogKey } from '../../logformat/keys.js';
import { HEADER_SIZE_BYTES } from '../../logformat/limits.js';
import { MemoryStore } from '../../store/memory-store.js';
import { ControlledStore } from './helpers/stores.js';
import { openTestVolume } from './helpers/volumes.js';
import { KIB, MIB, pattern } from './helpers/world.js';

const FUA_OFF = { fua: false };

/** Writes and closes, then reopens through a ControlledStore, so reads must use the store. */
async function reopenedWith(writes: { offsetBytes: number; data: Uint8Array; flush?: boolean }[], config = {}, writerConfig = {}, sizeBytes = 16 * MIB) {
  const inner = new MemoryStore();
  const writer = await openTestVolume({ store: inner, config: writerConfig, sizeBytes });
  for (const write of writes) {
    await writer.write(write.offsetBytes, write.data, FUA_OFF);
    if (write.flush === true) await writer.flush();
  }
  await writer.close();
  const store = new ControlledStore(inner);
  const volume = await openTestVolume({ store, config, sizeBytes });
  store.gets.length = 0;
  return { store, volume };
}

test('reads of the open object and of sealed objects still uploading come from memory, with no GET', async (t) => {
  const store = new ControlledStore(new MemoryStore());
  const volume = await openTestVolume({ store });
  const release = store.hold(() => true);
  const sealed = pattern({ lengthBytes: 16 * KIB, tag: 1 });
  await volume.write(0, sealed, FUA_OFF);
  const flushed = volume.flush();
  const open = pattern({ lengthBytes: 8 * KIB, tag: 2 });
  await volume.write(32 * KIB, open, FUA_OFF);
  store.gets.length = 0;
  t.deepEqual(await volume.read(0, 16 * KIB), sealed);
  t.deepEqual(await volume.read(32 * KIB, 8 * KIB), open);
  t.is(store.gets.length, 0);
  release();
  await flushed;
  await volume.close();
});

test('holes read as zeros without any request', async (t) => {
  const { store, volume } = await reopenedWith([{ offsetBytes: 0, data: pattern({ lengthBytes: 8 * KIB, tag: 3 }) }]);
  t.deepEqual(await volume.read(1 * MIB, 256 * KIB), new Uint8Array(256 * KIB));
  t.is(store.gets.length, 0);
  await volume.close();
});

test('uploaded data is fetched with a ranged GET at the header size plus its object sector, then served from the cache', async (t) => {
  const data = pattern({ lengthBytes: 16 * KIB, tag: 4 });
  const { store, volume } = await reopenedWith([{ offsetBytes: 100 * 4 * KIB, data }]);
  t.deepEqual(await volume.read(100 * 4 * KIB + 8 * KIB, 8 * KIB), data.subarray(8 * KIB));
  t.deepEqual(store.gets, [{ key: formatLogKey(1), offsetBytes: HEADER_SIZE_BYTES + 2 * 4 * KIB, lengthBytes: 8 * KIB }]);
  t.deepEqual(await volume.read(100 * 4 * KIB + 8 * KIB, 8 * KIB), data.subarray(8 * KIB));
  t.is(store.gets.length, 1);
  t.true(volume.stats().cacheHits >= 2);
  await volume.close();
});

test('neighbouring pieces of one object are coalesced into one GET', async (t) => {
  // One object: entries at sectors 0-1 and 10-11 are neighbours in the object's data area.
  const first = pattern({ lengthBytes: 8 * KIB, tag: 5 });
  const second = pattern({ lengthBytes: 8 * KIB, tag: 6 });
  const { store, volume } = await reopenedWith([
    { offsetBytes: 0, data: first },
    { offsetBytes: 40 * KIB, data: second },
  ]);
  const bytes = await volume.read(0, 48 * KIB);
  t.deepEqual(bytes.subarray(0, 8 * KIB), first);
  t.deepEqual(bytes.subarray(8 * KIB, 40 * KIB), new Uint8Array(32 * KIB));
  t.deepEqual(bytes.subarray(40 * KIB), second);
  t.deepEqual(store.gets, [{ key: formatLogKey(1), offsetBytes: HEADER_SIZE_BYTES, lengthBytes: 16 * KIB }]);
  await volume.close();
});

test('the GETs of one read run in parallel', async (t) => {
  const writes = Array.from({ length: 8 }, (_, index) => ({ offsetBytes: index * 8 * KIB, data: pattern({ lengthBytes: 8 * KIB, tag: index }), flush: true }));
  const { store, volume } = await reopenedWith(writes, { readCacheBytes: 0 });
  store.getDelayMs = 100;
  store.getsInFlightMax = 0;
  const bytes = await volume.read(0, 64 * KIB);
  t.is(store.gets.length, 8);
  t.is(store.getsInFlightMax, 8, 'all eight GETs were waiting on the store at once');
  writes.forEach((write) => t.deepEqual(bytes.subarray(write.offsetBytes, write.offsetBytes + 8 * KIB), write.data));
  await volume.close();
});

test('a failed GET is retried with backoff and the read succeeds', async (t) => {
  const data = pattern({ lengthBytes: 8 * KIB, tag: 7 });
  // A generous deadline: this proves the retry, not its timing, on however busy a machine.
  const { store, volume } = await reopenedWith([{ offsetBytes: 0, data }], { readRetryTimeoutMs: 60_000 });
  store.failGets(3);
  t.deepEqual(await volume.read(0, 8 * KIB), data);
  t.is(store.gets.length, 4);
  await volume.close();
});

test('a GET that keeps failing fails the read after readRetryTimeoutMs with ERR_VOLUME_READ_FAILED', async (t) => {
  const { store, volume } = await reopenedWith([{ offsetBytes: 0, data: pattern({ lengthBytes: 8 * KIB, tag: 8 }) }], { readRetryTimeoutMs: 4000 });
  store.failGets(1_000_000);
  const startMs = performance.now();
  await t.throwsAsync(volume.read(0, 8 * KIB), { code: 'ERR_VOLUME_READ_FAILED' });
  // It gives up when the next retry would end past the deadline: within one retry delay (20 ms) of it.
  t.true(performance.now() - startMs >= 3900, 'the read kept trying until the deadline');
  t.true(store.gets.length > 1);
  await volume.close();
});

test('sequential reads prefetch ahead: later reads are cache hits and GETs are far fewer than reads', async (t) => {
  const image = pattern({ lengthBytes: 4 * MIB, tag: 9 });
  const writes = Array.from({ length: 64 }, (_, index) => ({ offsetBytes: index * 64 * KIB, data: image.subarray(index * 64 * KIB, (index + 1) * 64 * KIB) }));
  const { store, volume } = await reopenedWith(writes, { readCacheBytes: 8 * MIB }, { targetObjectSizeBytes: MIB, unuploadedBytesMax: 4 * MIB });
  store.getDelayMs = 5;
  const readBytes = 32 * KIB;
  for (let offsetBytes = 0; offsetBytes < 4 * MIB; offsetBytes += readBytes) {
    t.deepEqual(await volume.read(offsetBytes, readBytes), image.subarray(offsetBytes, offsetBytes + readBytes));
  }
  const reads = (4 * MIB) / readBytes;
  const stats = volume.stats();
  t.true(store.gets.length < reads / 2, `${store.gets.length} GETs for ${reads} reads`);
  t.true(stats.cacheHits > (reads / 2) * 8, `${stats.cacheHits} cache hits`);
  await volume.close();
});

test('random reads do not trigger prefetch', async (t) => {
  const writes = Array.from({ length: 16 }, (_, index) => ({ offsetBytes: index * MIB, data: pattern({ lengthBytes: 64 * KIB, tag: index }) }));
  const { store, volume } = await reopenedWith(writes, { readCacheBytes: 8 * MIB });
  for (const block of [9, 2, 14, 5, 11, 0, 7]) await volume.read(block * MIB, 4 * KIB);
  t.is(store.gets.length, 7);
  await volume.close();
});

test('NBD CACHE brings a range into the cache', async (t) => {
  const data = pattern({ lengthBytes: 256 * KIB, tag: 10 });
  const { store, volume } = await reopenedWith([{ offsetBytes: 0, data }], { readCacheBytes: 8 * MIB });
  await volume.cache?.(0, 256 * KIB);
  await new Promise((resolve) => setTimeout(resolve, 50));
  const getsAfterCache = store.gets.length;
  t.true(getsAfterCache >= 1);
  t.deepEqual(await volume.read(0, 256 * KIB), data);
  t.is(store.gets.length, getsAfterCache);
  await volume.close();
});

// Throughput itself is the benchmark's to measure (docs/BENCHMARKS.md); this proves the mechanism:
// prefetch keeps many GETs in flight ahead of the reader, each fetching whole runs.
test('a cold sequential read at 50 ms of store latency keeps many GETs in flight ahead of the reader', async (t) => {
  const totalBytes = 64 * MIB;
  const writes = Array.from({ length: 64 }, (_, index) => ({ offsetBytes: index * MIB, data: new Uint8Array(MIB).fill(index + 1) }));
  const { store, volume } = await reopenedWith(writes, { readCacheBytes: 64 * MIB }, { targetObjectSizeBytes: 8 * MIB, unuploadedBytesMax: 64 * MIB }, totalBytes);
  store.getDelayMs = 50;
  store.getsInFlightMax = 0;
  const readBytes = 128 * KIB;
  const startMs = performance.now();
  for (let offsetBytes = 0; offsetBytes < totalBytes; offsetBytes += readBytes) {
    const bytes = await volume.read(offsetBytes, readBytes);
    if (bytes[0] !== Math.floor(offsetBytes / MIB) + 1 || bytes[readBytes - 1] !== bytes[0]) t.fail(`wrong data at ${offsetBytes}`);
  }
  const mibPerSecond = totalBytes / MIB / ((performance.now() - startMs) / 1000);
  t.log(`${mibPerSecond.toFixed(0)} MiB/s with ${store.gets.length} GETs (one GET per read would give ${(readBytes / MIB / 0.05).toFixed(1)} MiB/s)`);
  // 200 MiB/s at 50 ms needs 10 MiB in flight: at least 10 GETs of up to 1 MiB at once.
  t.true(store.getsInFlightMax >= 10, `at most ${store.getsInFlightMax} GETs were in flight at once`);
  t.true(store.gets.length <= totalBytes / MIB + 16, `${store.gets.length} GETs for ${totalBytes / MIB} MiB`);
  await volume.close();
});

test('readInto a reused, dirty buffer writes zeros over holes', async (t) => {
  const data = pattern({ lengthBytes: 8 * KIB, tag: 11 });
  const { volume } = await reopenedWith([{ offsetBytes: 8 * KIB, data, flush: true }]);
  const target = new Uint8Array(32 * KIB).fill(0xee);
  await volume.readInto(0, target);
  t.true(target.subarray(0, 8 * KIB).every((byte) => byte === 0), 'the hole before the data');
  t.deepEqual(target.subarray(8 * KIB, 16 * KIB), data);
  t.true(target.subarray(16 * KIB).every((byte) => byte === 0), 'the hole after the data');
  await volume.close();
});
