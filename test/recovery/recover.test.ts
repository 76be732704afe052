import test from 'ava';
import { formatArchiveKey, formatLogKey, formatZeroRangesKey } from '../../logformat/keys.js';
import { HEADER_SIZE_BYTES } from '../../logformat/limits.js';
import { MemoryStore } from '../../store/memory-store.js';
import { RealClock } from '../../daemon/clock.js';
import { recoverVolume, type RecoveredObject } from '../../recovery/recover.js';
import { recordingLogger, silentLogger } from '../daemon/helpers/world.js';
import { ControlledStore } from '../daemon/helpers/stores.js';
import { keysOf, putDescriptor, putLogObject, SyntheticLogStore, VOLUME_SIZE_BYTES } from './helpers.js';

const clock = new RealClock();

async function recover(store: MemoryStore | ControlledStore | SyntheticLogStore, logger = silentLogger()) {
  const objects: RecoveredObject[] = [];
  const result = await recoverVolume({ store, logger, clock, volumeSizeBytes: VOLUME_SIZE_BYTES, batchId: 'batch-1', onObject: (object) => objects.push(object) });
  return { result, objects };
}

test('an empty bucket recovers to sequence 0 with nothing processed or archived', async (t) => {
  const store = new MemoryStore();
  await putDescriptor(store);
  const { result, objects } = await recover(store);
  t.deepEqual(result, { lastSequence: 0, processedCount: 0, archivedCount: 0, unknownKeyCount: 0 });
  t.deepEqual(objects, []);
});

test('objects of the prefix are delivered in order with their entries and zero ranges', async (t) => {
  const store = new MemoryStore();
  await putDescriptor(store);
  await putLogObject(store, { sequence: 2, addressesBytes: [8192], zeroRanges: [{ addressBytes: 0, sizeBytes: 4096 }] });
  await putLogObject(store, { sequence: 1, addressesBytes: [0, 4096] });
  await putLogObject(store, { sequence: 3, addressesBytes: [] });
  const { logger, messages } = recordingLogger();
  const { result, objects } = await recover(store, logger);
  t.is(result.lastSequence, 3);
  t.is(result.processedCount, 3);
  t.deepEqual(objects, [
    { sequence: 1, entries: [{ addressBytes: 0, sizeBytes: 4096 }, { addressBytes: 4096, sizeBytes: 4096 }], zeroRanges: [] },
    { sequence: 2, entries: [{ addressBytes: 8192, sizeBytes: 4096 }], zeroRanges: [{ addressBytes: 0, sizeBytes: 4096 }] },
    { sequence: 3, entries: [], zeroRanges: [] },
  ]);
  t.true(messages().includes('Starting recovery from the memory:// store.'));
  t.true(messages().includes('Recovery complete (processed 3 objects).'));
});

test('headers are fetched with 12 KiB ranged GETs', async (t) => {
  const inner = new MemoryStore();
  await putDescriptor(inner);
  for (let sequence = 1; sequence <= 5; sequence++) await putLogObject(inner, { sequence, addressesBytes: [sequence * 4096] });
  const store = new ControlledStore(inner);
  await recover(store);
  t.is(store.gets.length, 5);
  for (const get of store.gets) t.deepEqual({ offsetBytes: get.offsetBytes, lengthBytes: get.lengthBytes }, { offsetBytes: 0, lengthBytes: HEADER_SIZE_BYTES });
});

test('log objects after the first gap and companions without their log object are archived, not deleted', async (t) => {
  const store = new MemoryStore();
  await putDescriptor(store);
  await putLogObject(store, { sequence: 1, addressesBytes: [0] });
  await putLogObject(store, { sequence: 2, addressesBytes: [4096] });
  await putLogObject(store, { sequence: 4, addressesBytes: [8192], zeroRanges: [{ addressBytes: 0, sizeBytes: 4096 }] });
  await putLogObject(store, { sequence: 5, addressesBytes: [8192] });
  await store.put(formatZeroRangesKey(3), new Uint8Array([1, 2, 3]));
  const before = store.snapshot();
  const { logger, messages } = recordingLogger();
  const { result, objects } = await recover(store, logger);
  t.is(result.lastSequence, 2);
  t.is(result.archivedCount, 4);
  t.deepEqual(objects.map((object) => object.sequence), [1, 2]);
  const after = store.snapshot();
  for (const key of [formatLogKey(4), formatLogKey(5), formatZeroRangesKey(4), formatZeroRangesKey(3)]) {
    t.false(after.has(key), `${key} moved away`);
    t.deepEqual(after.get(formatArchiveKey({ batchId: 'batch-1', key })), before.get(key), `${key} archived byte for byte`);
  }
  t.true(messages().includes('Archived 4 objects after the recovery point.'));
  t.true(messages().some((message) => message.includes(`"${formatLogKey(3)}" is missing`)));
});

test('a truncated object inside the prefix stops recovery with its key and the rollback command, changing nothing', async (t) => {
  const store = new MemoryStore();
  await putDescriptor(store);
  await putLogObject(store, { sequence: 1, addressesBytes: [0] });
  const good = (await store.get(formatLogKey(1))).slice();
  await store.put(formatLogKey(2), good.subarray(0, good.length - 100));
  await putLogObject(store, { sequence: 3, addressesBytes: [0] });
  await putLogObject(store, { sequence: 5, addressesBytes: [0] });
  const before = store.snapshot();
  const error = await t.throwsAsync(recover(store), { code: 'ERR_RECOVERY_CORRUPT_OBJECT' });
  t.true(error?.message.includes(formatLogKey(2)));
  t.true(error?.message.includes('lsvd rollback --to 1'));
  t.deepEqual(store.snapshot(), before);
});

test('an object whose entry runs past the volume end is corrupt', async (t) => {
  const store = new MemoryStore();
  await putDescriptor(store);
  await putLogObject(store, { sequence: 1, addressesBytes: [VOLUME_SIZE_BYTES] });
  await t.throwsAsync(recover(store), { code: 'ERR_RECOVERY_CORRUPT_OBJECT' });
});

test('a corrupt zero-range companion inside the prefix is corrupt too', async (t) => {
  const store = new MemoryStore();
  await putDescriptor(store);
  await putLogObject(store, { sequence: 1, addressesBytes: [0] });
  await store.put(formatZeroRangesKey(1), new Uint8Array([1, 2, 3]));
  const error = await t.throwsAsync(recover(store), { code: 'ERR_RECOVERY_CORRUPT_OBJECT' });
  t.true(error?.message.includes(formatZeroRangesKey(1)));
  t.true(error?.message.includes('lsvd rollback --to 0'));
});

test('unknown keys are ignored with one warning and never deleted', async (t) => {
  const store = new MemoryStore();
  await putDescriptor(store);
  await putLogObject(store, { sequence: 1, addressesBytes: [0] });
  await store.put('notes.txt', new Uint8Array([1]));
  await store.put('0000000000000001.bak', new Uint8Array([2]));
  const { logger, records } = recordingLogger();
  const { result } = await recover(store, logger);
  t.is(result.unknownKeyCount, 2);
  t.is(records().filter((record) => record['level'] === 40 && String(record['msg']).startsWith('Ignoring')).length, 1);
  t.true(keysOf(store).includes('notes.txt'));
  t.true(keysOf(store).includes('0000000000000001.bak'));
});

test('a header GET that fails transiently is retried', async (t) => {
  const inner = new MemoryStore();
  await putDescriptor(inner);
  await putLogObject(inner, { sequence: 1, addressesBytes: [0] });
  const store = new ControlledStore(inner);
  store.failGets(2);
  const { result } = await recover(store);
  t.is(result.lastSequence, 1);
});

test('10,000 objects behind 20 ms of store latency recover in a few seconds, 100 header GETs at a time', async (t) => {
  const store = new SyntheticLogStore({ objectCount: 10_000, latencyMs: 20 });
  const startMs = performance.now();
  let expectedSequence = 1;
  let ordered = true;
  const result = await recoverVolume({
    store,
    logger: silentLogger(),
    clock,
    volumeSizeBytes: VOLUME_SIZE_BYTES,
    batchId: 'batch-1',
    onObject: (object) => {
      ordered &&= object.sequence === expectedSequence && object.entries[0]?.addressBytes === SyntheticLogStore.entriesOf(object.sequence)[0]?.addressBytes;
      expectedSequence++;
    },
  });
  const elapsedMs = performance.now() - startMs;
  t.log(`recovered ${result.processedCount} objects in ${Math.round(elapsedMs)} ms, at most ${store.concurrentGetsMax} GETs at once`);
  t.is(result.processedCount, 10_000);
  t.true(ordered);
  t.true(store.concurrentGetsMax <= 100);
  t.true(store.concurrentGetsMax >= 50);
  t.true(elapsedMs < 10_000);
});
