import test from 'ava';
import { formatLogKey, formatZeroRangesKey } from '../../logformat/keys.js';
import { HEADER_SIZE_BYTES } from '../../logformat/limits.js';
import { MemoryStore } from '../../store/memory-store.js';
import { openVolume } from '../../daemon/open-volume.js';
import { ControlledStore } from './helpers/stores.js';
import { KIB, MIB, pattern, SMALL_CONFIG, world } from './helpers/world.js';

const FUA_OFF = { fua: false };

async function open(store: MemoryStore | ControlledStore, config = SMALL_CONFIG, sizeBytes: number | undefined = 16 * MIB) {
  return openVolume({ store, ...world(), config, ...(sizeBytes === undefined ? {} : { sizeBytes }) });
}

test('a write reads back at once from the open object, before any upload', async (t) => {
  const store = new MemoryStore();
  const volume = await open(store);
  const data = pattern({ lengthBytes: 12 * KIB, tag: 1 });
  await volume.write(40 * KIB, data, FUA_OFF);
  t.deepEqual(await volume.read(40 * KIB, 12 * KIB), data);
  t.deepEqual(await volume.read(36 * KIB, 4 * KIB), new Uint8Array(4 * KIB));
  t.is(volume.stats().lastSealedSequence, 0);
  t.false(store.snapshot().has(formatLogKey(1)));
  await volume.close();
});

test('flush seals the open object, stores it create-only as log object 1, and returns once it is stored', async (t) => {
  const store = new MemoryStore();
  const volume = await open(store);
  const data = pattern({ lengthBytes: 8 * KIB, tag: 2 });
  await volume.write(0, data, FUA_OFF);
  await volume.flush();
  const stored = store.snapshot().get(formatLogKey(1));
  t.truthy(stored);
  t.is(stored?.length, HEADER_SIZE_BYTES + 8 * KIB);
  t.deepEqual(stored?.subarray(HEADER_SIZE_BYTES), data);
  t.is(volume.stats().lastUploadedSequence, 1);
  await volume.close();
});

test('a flush with nothing new returns at once and creates no object', async (t) => {
  const store = new MemoryStore();
  const volume = await open(store);
  await volume.flush();
  await volume.flush();
  t.is(volume.stats().lastSealedSequence, 0);
  t.false([...store.snapshot().keys()].some((key) => key === formatLogKey(1)));
  await volume.close();
});

test('everything written comes back after close and reopen on the same store', async (t) => {
  const store = new MemoryStore();
  const volume = await open(store);
  const writes = [0, 100, 7, 2000, 3000].map((block, index) => ({ offsetBytes: block * 4 * KIB, data: pattern({ lengthBytes: (index + 1) * 8 * KIB, tag: index + 10 }) }));
  for (const write of writes) await volume.write(write.offsetBytes, write.data, FUA_OFF);
  await volume.close();
  const reopened = await open(store, SMALL_CONFIG, undefined);
  for (const write of writes) t.deepEqual(await reopened.read(write.offsetBytes, write.data.length), write.data);
  await reopened.close();
});

test('calls after close fail with ERR_VOLUME_CLOSED', async (t) => {
  const volume = await open(new MemoryStore());
  await volume.close();
  await t.throwsAsync(volume.write(0, new Uint8Array(4096), FUA_OFF), { code: 'ERR_VOLUME_CLOSED' });
  await t.throwsAsync(volume.read(0, 4096), { code: 'ERR_VOLUME_CLOSED' });
  await t.throwsAsync(volume.flush(), { code: 'ERR_VOLUME_CLOSED' });
});

test('trim reads as zeros at once and after reopen, records a companion and costs no data bytes', async (t) => {
  const store = new MemoryStore();
  const volume = await open(store);
  await volume.write(0, pattern({ lengthBytes: 64 * KIB, tag: 3 }), FUA_OFF);
  await volume.flush();
  await volume.trim(16 * KIB, 32 * KIB, FUA_OFF);
  t.deepEqual(await volume.read(16 * KIB, 32 * KIB), new Uint8Array(32 * KIB));
  await volume.close();
  const snapshot = store.snapshot();
  t.truthy(snapshot.get(formatZeroRangesKey(2)));
  t.is(snapshot.get(formatLogKey(2))?.length, HEADER_SIZE_BYTES);
  const reopened = await open(store);
  t.deepEqual(await reopened.read(16 * KIB, 32 * KIB), new Uint8Array(32 * KIB));
  t.deepEqual(await reopened.read(0, 16 * KIB), pattern({ lengthBytes: 64 * KIB, tag: 3 }).subarray(0, 16 * KIB));
  await reopened.close();
});

test('a 4 GiB trim is cheap: it finishes quickly and stores only a header and a tiny companion', async (t) => {
  const store = new MemoryStore();
  const volume = await open(store, SMALL_CONFIG, 8 * 1024 * MIB);
  await volume.write(1024 * MIB, pattern({ lengthBytes: 16 * KIB, tag: 4 }), FUA_OFF);
  const startMs = performance.now();
  await volume.trim(0, 4096 * MIB, FUA_OFF);
  await volume.flush();
  t.true(performance.now() - startMs < 1000);
  t.deepEqual(await volume.read(1024 * MIB, 16 * KIB), new Uint8Array(16 * KIB));
  const totalBytes = [...store.snapshot().values()].reduce((sum, bytes) => sum + bytes.length, 0);
  t.true(totalBytes < HEADER_SIZE_BYTES + 4 * KIB);
  await volume.close();
});

test('512-byte aligned writes read-modify-write their partial sectors, in memory and from the store', async (t) => {
  const store = new MemoryStore();
  const volume = await open(store, { ...SMALL_CONFIG, readCacheBytes: 0 });
  const base = pattern({ lengthBytes: 16 * KIB, tag: 5 });
  await volume.write(0, base, FUA_OFF);
  await volume.flush();
  const expected = base.slice();
  const small = pattern({ lengthBytes: 1536, tag: 6 });
  await volume.write(3584, small, FUA_OFF);
  expected.set(small, 3584);
  t.deepEqual(await volume.read(0, 16 * KIB), expected);
  await volume.trim(512, 512, FUA_OFF);
  expected.fill(0, 512, 1024);
  await volume.writeZeroes(7 * 512, 4096 + 1024, { fua: false, noHole: false });
  expected.fill(0, 7 * 512, 7 * 512 + 4096 + 1024);
  t.deepEqual(await volume.read(512, 15 * KIB), expected.subarray(512, 512 + 15 * KIB));
  await volume.close();
  const reopened = await open(store);
  t.deepEqual(await reopened.read(0, 16 * KIB), expected);
  await reopened.close();
});

test('two concurrent partial writes to one sector both survive', async (t) => {
  const store = new ControlledStore(new MemoryStore());
  const volume = await open(store, { ...SMALL_CONFIG, readCacheBytes: 0 });
  await volume.write(0, new Uint8Array(4096).fill(1), FUA_OFF);
  await volume.flush();
  store.getDelayMs = 20; // the read half of each read-modify-write waits on the store
  await Promise.all([volume.write(0, new Uint8Array(512).fill(2), FUA_OFF), volume.write(2048, new Uint8Array(512).fill(3), FUA_OFF)]);
  const sector = await volume.read(0, 4096);
  t.deepEqual(sector.subarray(0, 512), new Uint8Array(512).fill(2));
  t.deepEqual(sector.subarray(2048, 2560), new Uint8Array(512).fill(3));
  t.deepEqual(sector.subarray(512, 2048), new Uint8Array(1536).fill(1));
  await volume.close();
});

test('blockStatus reports holes and data from the map', async (t) => {
  const volume = await open(new MemoryStore());
  await volume.write(8 * KIB, new Uint8Array(8 * KIB).fill(9), FUA_OFF);
  const extents = await volume.blockStatus(0, 64 * KIB);
  t.deepEqual(extents, [
    { lengthBytes: 8 * KIB, hole: true, zero: true },
    { lengthBytes: 8 * KIB, hole: false, zero: false },
    { lengthBytes: 48 * KIB, hole: true, zero: true },
  ]);
  const unaligned = await volume.blockStatus(512, 8 * KIB);
  t.deepEqual(unaligned, [
    { lengthBytes: 8 * KIB - 512, hole: true, zero: true },
    { lengthBytes: 512, hole: false, zero: false },
  ]);
  await volume.close();
});

test('the open object is sealed when a write would need a 1,025th header entry', async (t) => {
  const store = new MemoryStore();
  const volume = await open(store, { ...SMALL_CONFIG, targetObjectSizeBytes: 8 * MIB, unuploadedBytesMax: 32 * MIB });
  const block = new Uint8Array(4 * KIB).fill(1);
  for (let index = 0; index < 1024; index++) await volume.write(index * 8 * KIB, block, FUA_OFF);
  t.is(volume.stats().lastSealedSequence, 0);
  await volume.write(1024 * 8 * KIB, block, FUA_OFF);
  t.is(volume.stats().lastSealedSequence, 1);
  await volume.close();
  const header = store.snapshot().get(formatLogKey(1));
  t.is(header?.length, HEADER_SIZE_BYTES + 1024 * 4 * KIB);
  // The last entry slot is used: its size field (bytes 8..11 of entry 1023) is 4096.
  t.is(new DataView(header?.buffer ?? new ArrayBuffer(HEADER_SIZE_BYTES), header?.byteOffset ?? 0).getUint32(1023 * 12 + 8, false), 4096);
  t.is(store.snapshot().get(formatLogKey(2))?.length, HEADER_SIZE_BYTES + 4 * KIB);
});
