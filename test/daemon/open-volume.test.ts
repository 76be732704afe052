import test from 'ava';
import { formatLogKey } from '../../logformat/keys.js';
import { encodeLogObject } from '../../logformat/log-object.js';
import { MemoryStore } from '../../store/memory-store.js';
import { openVolume } from '../../daemon/open-volume.js';
import { openTestVolume } from './helpers/volumes.js';
import { KIB, MIB, pattern, recordingLogger, SMALL_CONFIG, world } from './helpers/world.js';

test('a larger configured size grows the volume: old data stays, the new space is usable', async (t) => {
  const store = new MemoryStore();
  const small = await openTestVolume({ store, sizeBytes: 16 * MIB });
  const data = pattern({ lengthBytes: 8 * KIB, tag: 1 });
  await small.write(16 * MIB - 8 * KIB, data, { fua: false });
  await small.close();
  const grown = await openTestVolume({ store, sizeBytes: 32 * MIB });
  t.is(grown.sizeBytes, 32 * MIB);
  t.deepEqual(await grown.read(16 * MIB - 8 * KIB, 8 * KIB), data);
  await grown.write(30 * MIB, data, { fua: false });
  await grown.close();
  const reopened = await openVolume({ store, ...world(), config: SMALL_CONFIG });
  t.is(reopened.sizeBytes, 32 * MIB);
  t.deepEqual(await reopened.read(30 * MIB, 8 * KIB), data);
  await reopened.close();
});

test('a smaller configured size is refused with a typed error', async (t) => {
  const store = new MemoryStore();
  await (await openTestVolume({ store, sizeBytes: 16 * MIB })).close();
  await t.throwsAsync(openTestVolume({ store, sizeBytes: 8 * MIB }), { code: 'ERR_VOLUME_SHRINK_REFUSED' });
});

test('an empty bucket without a size is a typed error', async (t) => {
  await t.throwsAsync(openVolume({ store: new MemoryStore(), ...world(), config: SMALL_CONFIG }), { code: 'ERR_VOLUME_SIZE_REQUIRED' });
});

test('log objects written without a descriptor (Fly lsvd) are served once adopted', async (t) => {
  const store = new MemoryStore();
  const data = pattern({ lengthBytes: 8 * KIB, tag: 2 });
  await store.put(formatLogKey(1), encodeLogObject([{ addressBytes: 4 * KIB, data }]));
  await store.put(formatLogKey(2), encodeLogObject([{ addressBytes: 8 * KIB, data: new Uint8Array(4 * KIB).fill(5) }]));
  await t.throwsAsync(openTestVolume({ store }), { code: 'ERR_VOLUME_DESCRIPTOR_MISSING' });
  const volume = await openVolume({ store, ...world(), config: SMALL_CONFIG, sizeBytes: 16 * MIB, adoptExisting: true });
  const bytes = await volume.read(4 * KIB, 8 * KIB);
  t.deepEqual(bytes.subarray(0, 4 * KIB), data.subarray(0, 4 * KIB));
  t.deepEqual(bytes.subarray(4 * KIB), new Uint8Array(4 * KIB).fill(5));
  await volume.write(0, data, { fua: false });
  await volume.close();
  t.true(store.snapshot().has(formatLogKey(3)));
});

test('an invalid config is a typed error before anything is touched', async (t) => {
  const store = new MemoryStore();
  await t.throwsAsync(openTestVolume({ store, config: { targetObjectSizeBytes: 1000 } }), { code: 'ERR_VOLUME_CONFIG_INVALID' });
  await t.throwsAsync(openTestVolume({ store, config: { unuploadedBytesMax: 64 * KIB } }), { code: 'ERR_VOLUME_CONFIG_INVALID' });
  t.is(store.snapshot().size, 0);
});

test('a corrupt object in the log stops the open with the recovery error', async (t) => {
  const store = new MemoryStore();
  const volume = await openTestVolume({ store });
  await volume.write(0, pattern({ lengthBytes: 8 * KIB, tag: 3 }), { fua: false });
  await volume.close();
  const bytes = await store.get(formatLogKey(1));
  await store.put(formatLogKey(1), bytes.subarray(0, bytes.length - 4096));
  await t.throwsAsync(openTestVolume({ store }), { code: 'ERR_RECOVERY_CORRUPT_OBJECT' });
});

test('opening logs the recovery lines an operator looks for', async (t) => {
  const store = new MemoryStore();
  const first = await openTestVolume({ store });
  await first.write(0, pattern({ lengthBytes: 8 * KIB, tag: 4 }), { fua: true });
  await first.close();
  const { logger, messages } = recordingLogger();
  const volume = await openVolume({ store, ...world(), logger, config: SMALL_CONFIG });
  t.true(messages().includes('Starting recovery from the memory:// store.'));
  t.true(messages().includes('Recovery complete (processed 1 objects).'));
  await volume.close();
});
