import test from 'ava';
import { formatArchiveKey, formatLogKey, formatZeroRangesKey } from '../../logformat/keys.js';
import { MemoryStore } from '../../store/memory-store.js';
import { StoreError } from '../../store/errors.js';
import { RealClock } from '../../daemon/clock.js';
import { recoverVolume, type RecoveredObject } from '../../recovery/recover.js';
import { rollback } from '../../recovery/rollback.js';
import { ControlledStore } from '../daemon/helpers/stores.js';
import { silentLogger } from '../daemon/helpers/world.js';
import { putDescriptor, putLogObject, VOLUME_SIZE_BYTES } from './helpers.js';

const clock = new RealClock();

async function bucketWithFiveObjects(): Promise<MemoryStore> {
  const store = new MemoryStore();
  await putDescriptor(store);
  for (let sequence = 1; sequence <= 5; sequence++) {
    await putLogObject(store, { sequence, addressesBytes: [sequence * 4096], ...(sequence % 2 === 0 ? { zeroRanges: [{ addressBytes: 0, sizeBytes: 4096 }] } : {}) });
  }
  return store;
}

async function replayedSequences(store: MemoryStore | ControlledStore): Promise<number[]> {
  const objects: RecoveredObject[] = [];
  await recoverVolume({ store, logger: silentLogger(), clock, volumeSizeBytes: VOLUME_SIZE_BYTES, batchId: 'check', onObject: (object) => objects.push(object) });
  return objects.map((object) => object.sequence);
}

test('rollback archives every later log object and companion and leaves the volume as after object toSequence', async (t) => {
  const store = await bucketWithFiveObjects();
  const before = store.snapshot();
  const result = await rollback({ store, toSequence: 2, logger: silentLogger(), clock, batchId: 'rb-1' });
  t.is(result.archivedCount, 4);
  const after = store.snapshot();
  for (const key of [formatLogKey(3), formatLogKey(4), formatZeroRangesKey(4), formatLogKey(5)]) {
    t.false(after.has(key));
    t.deepEqual(after.get(formatArchiveKey({ batchId: 'rb-1', key })), before.get(key));
  }
  t.true(after.has(formatZeroRangesKey(2)));
  t.deepEqual(await replayedSequences(store), [1, 2]);
});

test('rollback moves the highest sequence first, each log object before its companion', async (t) => {
  const inner = await bucketWithFiveObjects();
  const store = new ControlledStore(inner);
  const deleted: string[] = [];
  const originalDelete = store.delete.bind(store);
  store.delete = async (key: string) => {
    deleted.push(key);
    await originalDelete(key);
  };
  await rollback({ store, toSequence: 1, logger: silentLogger(), clock, batchId: 'rb-2' });
  t.deepEqual(deleted, [formatLogKey(5), formatLogKey(4), formatZeroRangesKey(4), formatLogKey(3), formatLogKey(2), formatZeroRangesKey(2)]);
});

test('a rollback that stops midway still leaves a gap-free prefix that recovers cleanly', async (t) => {
  const inner = await bucketWithFiveObjects();
  const store = new ControlledStore(inner);
  let deletesLeft = 2;
  const originalDelete = store.delete.bind(store);
  store.delete = async (key: string) => {
    if (deletesLeft-- <= 0) throw new StoreError('ERR_STORE_ACCESS_DENIED', 'the operator pulled the plug');
    await originalDelete(key);
  };
  await t.throwsAsync(rollback({ store, toSequence: 1, logger: silentLogger(), clock, batchId: 'rb-3' }), { code: 'ERR_RECOVERY_STORE_FAILED' });
  t.deepEqual(await replayedSequences(inner), [1, 2, 3]);
  await rollback({ store: inner, toSequence: 1, logger: silentLogger(), clock, batchId: 'rb-4' });
  t.deepEqual(await replayedSequences(inner), [1]);
});

test('rollback to 0 empties the volume; a target below 0 or fractional is refused', async (t) => {
  const store = await bucketWithFiveObjects();
  await t.throwsAsync(rollback({ store, toSequence: -1, logger: silentLogger(), clock, batchId: 'rb-5' }), { code: 'ERR_ROLLBACK_TARGET_INVALID' });
  await t.throwsAsync(rollback({ store, toSequence: 1.5, logger: silentLogger(), clock, batchId: 'rb-5' }), { code: 'ERR_ROLLBACK_TARGET_INVALID' });
  await rollback({ store, toSequence: 0, logger: silentLogger(), clock, batchId: 'rb-5' });
  t.deepEqual(await replayedSequences(store), []);
});

test('rolling back past the end changes nothing', async (t) => {
  const store = await bucketWithFiveObjects();
  const before = store.snapshot();
  t.deepEqual(await rollback({ store, toSequence: 9, logger: silentLogger(), clock, batchId: 'rb-6' }), { archivedCount: 0 });
  t.deepEqual(store.snapshot(), before);
});
