import test from 'ava';
import { formatLogKey, formatZeroRangesKey } from '../../logformat/keys.js';
import { encodeLogObject } from '../../logformat/log-object.js';
import { MemoryStore } from '../../store/memory-store.js';
import { ManualClock } from '../../daemon/clock.js';
import { ControlledStore } from './helpers/stores.js';
import { eventually, isPending, openTestVolume } from './helpers/volumes.js';
import { KIB, pattern } from './helpers/world.js';

const FUA_OFF = { fua: false };

test('a FLUSH does not return while a lower sequence is still uploading, even when its own object is stored', async (t) => {
  const store = new ControlledStore(new MemoryStore());
  const volume = await openTestVolume({ store });
  const releaseFirst = store.hold((key) => key === formatLogKey(1));
  await volume.write(0, pattern({ lengthBytes: 8 * KIB, tag: 1 }), FUA_OFF);
  const firstFlush = volume.flush();
  await volume.write(64 * KIB, pattern({ lengthBytes: 8 * KIB, tag: 2 }), FUA_OFF);
  const secondFlush = volume.flush();
  await eventually(() => store.completedPuts.includes(formatLogKey(2)));
  t.true(await isPending(secondFlush));
  t.true(await isPending(firstFlush, 0));
  t.is(volume.stats().lastUploadedSequence, 0);
  releaseFirst();
  await Promise.all([firstFlush, secondFlush]);
  t.is(volume.stats().lastUploadedSequence, 2);
  await volume.close();
});

test('sealed objects upload concurrently, not one after another', async (t) => {
  const store = new ControlledStore(new MemoryStore());
  const volume = await openTestVolume({ store });
  const release = store.hold((key) => /^[0-9a-f]{16}$/.test(key));
  for (let index = 0; index < 5; index++) {
    await volume.write(index * 64 * KIB, pattern({ lengthBytes: 8 * KIB, tag: index }), FUA_OFF);
    void volume.flush().catch(() => {});
  }
  await eventually(() => store.heldKeys().length === 5);
  t.deepEqual(store.heldKeys().sort(), [1, 2, 3, 4, 5].map(formatLogKey));
  release();
  await volume.flush();
  await volume.close();
});

test('a failed upload retries with backoff until it succeeds, and the data stays readable meanwhile', async (t) => {
  const inner = new MemoryStore();
  const store = new ControlledStore(inner);
  const volume = await openTestVolume({ store });
  store.failPuts({ matches: (key) => key === formatLogKey(1), count: 4 });
  const data = pattern({ lengthBytes: 12 * KIB, tag: 3 });
  await volume.write(0, data, FUA_OFF);
  const flushed = volume.flush();
  t.deepEqual(await volume.read(0, 12 * KIB), data);
  await flushed;
  t.true(volume.stats().uploadRetries >= 4);
  t.deepEqual(inner.snapshot().get(formatLogKey(1))?.subarray(-12 * KIB), data);
  await volume.close();
});

test('a 412 on a retry after a lost acknowledgement is recognised as our own object: success, not fencing', async (t) => {
  const inner = new MemoryStore();
  const store = new ControlledStore(inner);
  const volume = await openTestVolume({ store });
  store.failPuts({ matches: (key) => key === formatLogKey(1), count: 1, afterStoring: true });
  await volume.write(0, pattern({ lengthBytes: 8 * KIB, tag: 4 }), FUA_OFF);
  await volume.flush();
  t.is(volume.state, 'open');
  t.true(store.gets.some((get) => get.key === formatLogKey(1) && get.offsetBytes === undefined));
  await volume.write(8 * KIB, pattern({ lengthBytes: 8 * KIB, tag: 5 }), FUA_OFF);
  await volume.flush();
  await volume.close();
});

test('a 412 with different bytes means another writer: the volume is fenced at once', async (t) => {
  const inner = new MemoryStore();
  const volume = await openTestVolume({ store: inner });
  // Another daemon writes object 1 first.
  await inner.put(formatLogKey(1), encodeLogObject([{ addressBytes: 0, data: new Uint8Array(4096).fill(7) }]), { createOnly: true });
  await volume.write(0, pattern({ lengthBytes: 8 * KIB, tag: 6 }), FUA_OFF);
  await t.throwsAsync(volume.flush(), { code: 'ERR_VOLUME_FENCED' });
  const failure = await volume.failure;
  t.is((failure as { code?: string }).code, 'ERR_VOLUME_FENCED');
  t.is(volume.state, 'fenced');
  await t.throwsAsync(volume.write(0, new Uint8Array(4096), FUA_OFF), { code: 'ERR_VOLUME_FENCED' });
  await t.throwsAsync(volume.flush(), { code: 'ERR_VOLUME_FENCED' });
  await t.throwsAsync(volume.close(), { code: 'ERR_VOLUME_FENCED' });
  // Reads still work: the memory copy of our object is intact.
  t.deepEqual(await volume.read(0, 8 * KIB), pattern({ lengthBytes: 8 * KIB, tag: 6 }));
  volume.abandon();
});

test('the zero-range companion is stored before its log object', async (t) => {
  const store = new ControlledStore(new MemoryStore());
  const volume = await openTestVolume({ store });
  await volume.write(0, pattern({ lengthBytes: 8 * KIB, tag: 7 }), FUA_OFF);
  await volume.trim(64 * KIB, 64 * KIB, FUA_OFF);
  await volume.flush();
  t.deepEqual(store.completedPuts.filter((key) => key !== 'volume.json'), [formatZeroRangesKey(1), formatLogKey(1)]);
  await volume.close();
});

test('a FUA write returns only once its object and every lower one are stored', async (t) => {
  const store = new ControlledStore(new MemoryStore());
  const volume = await openTestVolume({ store });
  const release = store.hold((key) => key === formatLogKey(1));
  await volume.write(0, pattern({ lengthBytes: 8 * KIB, tag: 8 }), FUA_OFF);
  void volume.flush().catch(() => {});
  const fuaWrite = volume.write(64 * KIB, pattern({ lengthBytes: 8 * KIB, tag: 9 }), { fua: true });
  t.true(await isPending(fuaWrite));
  release();
  await fuaWrite;
  t.is(volume.stats().lastUploadedSequence, 2);
  await volume.close();
});

test('past unuploadedBytesMax new writes wait instead of failing or growing memory, and go on once uploads finish', async (t) => {
  const store = new ControlledStore(new MemoryStore());
  const unuploadedBytesMax = 256 * KIB;
  const volume = await openTestVolume({ store, config: { unuploadedBytesMax } });
  const release = store.hold((key) => /^[0-9a-f]{16}$/.test(key));
  const writes: Promise<void>[] = [];
  for (let index = 0; index < 12; index++) writes.push(volume.write(index * 64 * KIB, pattern({ lengthBytes: 64 * KIB, tag: index }), FUA_OFF));
  await eventually(() => volume.stats().writesWaiting > 0);
  await new Promise((resolve) => setTimeout(resolve, 50));
  const stats = volume.stats();
  t.true(stats.unuploadedBytes <= unuploadedBytesMax + 64 * KIB + 12 * KIB, `unuploaded ${stats.unuploadedBytes}`);
  t.true(stats.writesWaiting > 0);
  release();
  await Promise.all(writes);
  await volume.flush();
  for (let index = 0; index < 12; index++) t.deepEqual(await volume.read(index * 64 * KIB, 64 * KIB), pattern({ lengthBytes: 64 * KIB, tag: index }));
  await volume.close();
});

test('the open object is sealed after idleSealMs without writes, on the injected clock', async (t) => {
  const clock = new ManualClock({ startMs: 1_700_000_000_000 });
  const store = new ControlledStore(new MemoryStore());
  const volume = await openTestVolume({ store, clock, config: { idleSealMs: 1000 } });
  await volume.write(0, pattern({ lengthBytes: 4 * KIB, tag: 10 }), FUA_OFF);
  clock.advance(600);
  await volume.write(4 * KIB, pattern({ lengthBytes: 4 * KIB, tag: 11 }), FUA_OFF);
  clock.advance(999);
  t.is(volume.stats().lastSealedSequence, 0);
  clock.advance(1);
  t.is(volume.stats().lastSealedSequence, 1);
  await eventually(() => volume.stats().lastUploadedSequence === 1);
  await volume.close();
});

test('a trickle of writes is still sealed once the object has been open for five idle periods', async (t) => {
  const clock = new ManualClock();
  const volume = await openTestVolume({ store: new MemoryStore(), clock, config: { idleSealMs: 100 } });
  for (let step = 0; step < 5; step++) {
    await volume.write(step * 4 * KIB, pattern({ lengthBytes: 4 * KIB, tag: step }), FUA_OFF);
    clock.advance(99);
  }
  t.is(volume.stats().lastSealedSequence, 0);
  clock.advance(10);
  t.is(volume.stats().lastSealedSequence, 1);
  await volume.close();
});

test('abandon drops memory, fails waiting flushes, and starts no new store request', async (t) => {
  const store = new ControlledStore(new MemoryStore());
  const volume = await openTestVolume({ store });
  store.failPuts({ matches: (key) => key === formatLogKey(1), count: 1000 });
  await volume.write(0, pattern({ lengthBytes: 8 * KIB, tag: 12 }), FUA_OFF);
  const flushed = volume.flush();
  await eventually(() => volume.stats().uploadRetries >= 2);
  volume.abandon();
  await t.throwsAsync(flushed, { code: 'ERR_VOLUME_ABANDONED' });
  const putsAtAbandon = volume.stats().uploadRetries;
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.is(volume.stats().uploadRetries, putsAtAbandon);
  t.is(volume.stats().unuploadedBytes, 0);
  await t.throwsAsync(volume.write(0, new Uint8Array(4096), FUA_OFF), { code: 'ERR_VOLUME_ABANDONED' });
});
