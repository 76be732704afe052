/**
 * The create-only probe (DESIGN.md §6) against every backend: enforced where the store
 * refuses a second create, not where it accepts and ignores If-None-Match (s3rver), and the
 * probe key is gone afterwards.
 */
import test from 'ava';
import { MemoryStore } from '../../store/memory-store.js';
import { PROBE_KEY_PREFIX, probeCreateOnly } from '../../store/probe.js';
import { StoreError } from '../../store/errors.js';
import { listKeys, patternBytes, registerBackends } from './backends.js';

const backends = registerBackends(test);

for (const backend of backends) {
  test(`${backend.name}: the probe reports enforced=${backend.createOnlyEnforced} and leaves no key behind`, async (t) => {
    const opened = await backend.open();
    try {
      await opened.store.put('0000000000000001', patternBytes(3));
      t.deepEqual(await probeCreateOnly(opened.store, { probeId: 'start-1' }), { enforced: backend.createOnlyEnforced });
      t.deepEqual(await listKeys(opened.store), ['0000000000000001']);
    } finally {
      await opened.dispose();
    }
  });
}

test('a store that ignores If-None-Match is reported as not enforcing', async (t) => {
  const store = new MemoryStore({ enforceCreateOnly: false });
  t.deepEqual(await probeCreateOnly(store, { probeId: 'x' }), { enforced: false });
  t.deepEqual(store.keys(), []);
});

test('a probe key left by a crashed probe counts as enforcement and is cleaned up', async (t) => {
  const store = new MemoryStore();
  await store.put(`${PROBE_KEY_PREFIX}stale`, patternBytes(1));
  t.deepEqual(await probeCreateOnly(store, { probeId: 'stale' }), { enforced: true });
  t.deepEqual(store.keys(), []);
});

test('a probe id that is not one key segment is refused', async (t) => {
  const store = new MemoryStore();
  await t.throwsAsync(probeCreateOnly(store, { probeId: 'a/b' }), { code: 'ERR_STORE_INVALID_KEY' });
  await t.throwsAsync(probeCreateOnly(store, { probeId: '' }), { code: 'ERR_STORE_INVALID_KEY' });
  await t.throwsAsync(probeCreateOnly(store, { probeId: '.hidden' }), { code: 'ERR_STORE_INVALID_KEY' });
});

test('a store failure during the probe propagates instead of being guessed at', async (t) => {
  const store = new MemoryStore();
  let putCount = 0;
  const failing = Object.assign(Object.create(store) as MemoryStore, {
    put: async () => {
      putCount += 1;
      throw new StoreError('ERR_STORE_UNAVAILABLE', 'the store is down');
    },
    delete: (key: string) => store.delete(key),
  });
  await t.throwsAsync(probeCreateOnly(failing, { probeId: 'p' }), { code: 'ERR_STORE_UNAVAILABLE' });
  t.is(putCount, 1);
});
