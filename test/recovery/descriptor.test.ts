import test from 'ava';
import { VOLUME_DESCRIPTOR_KEY } from '../../logformat/keys.js';
import { decodeVolumeDescriptor } from '../../logformat/volume-descriptor.js';
import { MemoryStore } from '../../store/memory-store.js';
import { RealClock } from '../../daemon/clock.js';
import { ensureVolumeDescriptor, type EnsureDescriptorOptions } from '../../recovery/descriptor.js';
import { silentLogger } from '../daemon/helpers/world.js';
import { putLogObject } from './helpers.js';

const MIB = 1024 * 1024;

function options(store: MemoryStore, extra: Partial<EnsureDescriptorOptions> = {}): EnsureDescriptorOptions {
  return { store, logger: silentLogger(), clock: new RealClock(), newVolumeId: 'vol-a', createdAt: '2025-01-01T00:00:00.000Z', ...extra };
}

async function stored(store: MemoryStore) {
  return decodeVolumeDescriptor(await store.get(VOLUME_DESCRIPTOR_KEY), { objectKey: VOLUME_DESCRIPTOR_KEY });
}

test('a new volume gets a descriptor with its size, 4 KiB sectors, format version 1 and the given id', async (t) => {
  const store = new MemoryStore();
  const { descriptor, action } = await ensureVolumeDescriptor(options(store, { sizeBytes: 64 * MIB }));
  t.is(action, 'created');
  t.deepEqual(descriptor, { formatVersion: 1, volumeId: 'vol-a', sizeBytes: 64 * MIB, sectorSizeBytes: 4096, createdAt: '2025-01-01T00:00:00.000Z' });
  t.deepEqual(await stored(store), descriptor);
});

test('without a size an existing volume opens with its own size', async (t) => {
  const store = new MemoryStore();
  await ensureVolumeDescriptor(options(store, { sizeBytes: 64 * MIB }));
  const { descriptor, action } = await ensureVolumeDescriptor(options(store, { newVolumeId: 'vol-b' }));
  t.is(action, 'opened');
  t.is(descriptor.sizeBytes, 64 * MIB);
  t.is(descriptor.volumeId, 'vol-a');
});

test('a larger size grows the descriptor and keeps its id', async (t) => {
  const store = new MemoryStore();
  await ensureVolumeDescriptor(options(store, { sizeBytes: 64 * MIB }));
  const { descriptor, action } = await ensureVolumeDescriptor(options(store, { sizeBytes: 128 * MIB, newVolumeId: 'vol-b' }));
  t.is(action, 'grown');
  t.is(descriptor.volumeId, 'vol-a');
  t.is((await stored(store)).sizeBytes, 128 * MIB);
});

test('a smaller size is refused and the descriptor is unchanged', async (t) => {
  const store = new MemoryStore();
  await ensureVolumeDescriptor(options(store, { sizeBytes: 64 * MIB }));
  await t.throwsAsync(ensureVolumeDescriptor(options(store, { sizeBytes: 32 * MIB })), { code: 'ERR_VOLUME_SHRINK_REFUSED' });
  t.is((await stored(store)).sizeBytes, 64 * MIB);
});

test('no descriptor, no log objects and no size is an error', async (t) => {
  await t.throwsAsync(ensureVolumeDescriptor(options(new MemoryStore())), { code: 'ERR_VOLUME_SIZE_REQUIRED' });
});

test('a size that is not whole sectors is refused', async (t) => {
  await t.throwsAsync(ensureVolumeDescriptor(options(new MemoryStore(), { sizeBytes: 4097 })), { code: 'ERR_VOLUME_SIZE_INVALID' });
  await t.throwsAsync(ensureVolumeDescriptor(options(new MemoryStore(), { sizeBytes: 0 })), { code: 'ERR_VOLUME_SIZE_INVALID' });
});

test('log objects without a descriptor are refused unless adopted, then the descriptor is created', async (t) => {
  const store = new MemoryStore();
  await putLogObject(store, { sequence: 1, addressesBytes: [0] });
  await t.throwsAsync(ensureVolumeDescriptor(options(store, { sizeBytes: 64 * MIB })), { code: 'ERR_VOLUME_DESCRIPTOR_MISSING' });
  await t.throwsAsync(ensureVolumeDescriptor(options(store, { adoptExisting: true })), { code: 'ERR_VOLUME_SIZE_REQUIRED' });
  const { action, descriptor } = await ensureVolumeDescriptor(options(store, { sizeBytes: 64 * MIB, adoptExisting: true }));
  t.is(action, 'adopted');
  t.deepEqual(await stored(store), descriptor);
});
