/**
 * The ObjectStore contract (store/object-store.ts), run unchanged against every backend:
 * memory, file (a temporary directory) and s3 (s3rver on 127.0.0.1).
 */
import test, { type ExecutionContext } from 'ava';
import PQueue from 'p-queue';
import { KEY_MAX_BYTES } from '../../store/keys.js';
import type { ObjectStore } from '../../store/object-store.js';
import { type Backend, collect, listKeys, type OpenedStore, patternBytes, registerBackends, sortByUtf8 } from './backends.js';

type Case = (t: ExecutionContext, context: { store: ObjectStore; opened: OpenedStore; backend: Backend }) => Promise<void>;

const cases = new Map<string, Case>();
const backends = registerBackends(test);

/** Keys whose byte order differs from naive orders: '-' < '/' < '0', and UTF-8 vs UTF-16 above U+FFFF. */
const ORDER_KEYS = ['z', 'ab~', 'ab/c', 'a0', 'B', 'ab-d', 'a/b', 'a-c', 'é', '\uFF01', '😀', 'a/b-', 'a/b0/c'];

function owns(bytes: Uint8Array): boolean {
  return bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.byteLength;
}

cases.set('a put object reads back byte for byte, including every byte value and 1 MiB of data', async (t, { store }) => {
  const everyByte = Uint8Array.from({ length: 256 }, (_, index) => index);
  const large = patternBytes(1024 * 1024, 7);
  await store.put('bin/every-byte', everyByte);
  await store.put('bin/large', large);
  t.deepEqual(await store.get('bin/every-byte'), everyByte);
  t.deepEqual(await store.get('bin/large'), large);
});

cases.set('stored and returned bytes are copies the caller owns', async (t, { store }) => {
  const body = patternBytes(100);
  await store.put('copy', body);
  body[0] = 255;
  const first = await store.get('copy');
  t.is(first[0], 0);
  t.true(owns(first));
  first[1] = 255;
  t.is((await store.get('copy'))[1], 1);
  t.true(owns(await store.get('copy', { range: { offsetBytes: 3, lengthBytes: 5 } })));
});

cases.set('a plain put replaces an existing object', async (t, { store }) => {
  await store.put('replace', patternBytes(10, 1));
  await store.put('replace', patternBytes(3, 2));
  t.deepEqual(await store.get('replace'), patternBytes(3, 2));
  t.deepEqual(await store.head('replace'), { key: 'replace', sizeBytes: 3 });
});

cases.set('a zero-length object can be put, read whole or by range, and has size 0', async (t, { store }) => {
  await store.put('empty', new Uint8Array(0));
  t.is((await store.get('empty')).byteLength, 0);
  t.is((await store.get('empty', { range: { offsetBytes: 0, lengthBytes: 10 } })).byteLength, 0);
  t.deepEqual(await store.head('empty'), { key: 'empty', sizeBytes: 0 });
  t.deepEqual(await collect(store.list()), [{ key: 'empty', sizeBytes: 0 }]);
});

cases.set('ranges return exactly the bytes that exist, at the edges and past the end', async (t, { store }) => {
  const body = patternBytes(10_000, 3);
  await store.put('ranged', body);
  const get = (offsetBytes: number, lengthBytes: number) => store.get('ranged', { range: { offsetBytes, lengthBytes } });
  t.deepEqual(await get(0, 1), body.subarray(0, 1), 'first byte');
  t.deepEqual(await get(9_999, 1), body.subarray(9_999), 'last byte');
  t.deepEqual(await get(4_096, 4_096), body.subarray(4_096, 8_192), 'middle');
  t.deepEqual(await get(0, 10_000), body, 'whole');
  t.deepEqual(await get(9_990, 100), body.subarray(9_990), 'runs past the end');
  t.deepEqual(await get(0, 20_000), body, 'longer than the object');
  t.is((await get(10_000, 1)).byteLength, 0, 'starts at the end');
  t.is((await get(12_288, 4_096)).byteLength, 0, 'starts past the end');
  t.is((await get(100, 0)).byteLength, 0, 'zero length');
});

cases.set('head reports the size of an object', async (t, { store }) => {
  await store.put('sized/object', patternBytes(12_345));
  t.deepEqual(await store.head('sized/object'), { key: 'sized/object', sizeBytes: 12_345 });
});

cases.set('a missing key is not found by get or head, and deleting it succeeds', async (t, { store }) => {
  await t.throwsAsync(store.get('missing'), { code: 'ERR_STORE_NOT_FOUND' });
  await t.throwsAsync(store.get('missing', { range: { offsetBytes: 0, lengthBytes: 4 } }), { code: 'ERR_STORE_NOT_FOUND' });
  await t.throwsAsync(store.get('missing', { range: { offsetBytes: 0, lengthBytes: 0 } }), { code: 'ERR_STORE_NOT_FOUND' });
  await t.throwsAsync(store.head('missing/deeper'), { code: 'ERR_STORE_NOT_FOUND' });
  await t.notThrowsAsync(store.delete('missing'));
  await t.notThrowsAsync(store.delete('missing/deeper'));
});

cases.set('a deleted object is gone from get, head and list', async (t, { store }) => {
  await store.put('doomed/one', patternBytes(5));
  await store.put('kept', patternBytes(5));
  await store.delete('doomed/one');
  await t.throwsAsync(store.get('doomed/one'), { code: 'ERR_STORE_NOT_FOUND' });
  await t.throwsAsync(store.head('doomed/one'), { code: 'ERR_STORE_NOT_FOUND' });
  t.deepEqual(await listKeys(store), ['kept']);
  await t.notThrowsAsync(store.delete('doomed/one'));
});

cases.set('a folder of other keys is not an object', async (t, { store }) => {
  await store.put('folder/inner', patternBytes(5));
  await t.throwsAsync(store.get('folder'), { code: 'ERR_STORE_NOT_FOUND' });
  await t.throwsAsync(store.head('folder'), { code: 'ERR_STORE_NOT_FOUND' });
  await store.delete('folder');
  t.deepEqual(await listKeys(store), ['folder/inner']);
});

cases.set('list yields keys in ascending UTF-8 byte order with their sizes', async (t, { store }) => {
  for (const [index, key] of ORDER_KEYS.entries()) await store.put(key, patternBytes(index));
  const listed = await collect(store.list());
  t.deepEqual(
    listed.map((item) => item.key),
    sortByUtf8(ORDER_KEYS),
  );
  for (const item of listed) t.is(item.sizeBytes, ORDER_KEYS.indexOf(item.key));
});

cases.set('list honours prefix, startAfter and both together', async (t, { store }) => {
  for (const key of ORDER_KEYS) await store.put(key, patternBytes(1));
  const sorted = sortByUtf8(ORDER_KEYS);
  t.deepEqual(await listKeys(store, { prefix: '' }), sorted, 'empty prefix');
  t.deepEqual(await listKeys(store, { prefix: 'a/' }), ['a/b', 'a/b-', 'a/b0/c']);
  t.deepEqual(await listKeys(store, { prefix: 'ab' }), ['ab-d', 'ab/c', 'ab~'], 'a prefix that ends inside a segment');
  t.deepEqual(await listKeys(store, { prefix: 'nothing/' }), []);
  t.deepEqual(await listKeys(store, { startAfter: 'a/b' }), sorted.slice(sorted.indexOf('a/b') + 1));
  t.deepEqual(await listKeys(store, { startAfter: 'a/' }), sorted.slice(sorted.indexOf('a/b')), 'startAfter a key that does not exist');
  t.deepEqual(await listKeys(store, { startAfter: '\u{10FFFF}' }), [], 'startAfter past every key');
  t.deepEqual(await listKeys(store, { prefix: 'a/', startAfter: 'a/b-' }), ['a/b0/c']);
  t.deepEqual(await listKeys(store, { prefix: 'ab', startAfter: 'a' }), ['ab-d', 'ab/c', 'ab~'], 'startAfter before the prefix');
});

cases.set('list pages through more than 1,000 keys in order, and can stop early', async (t, { store }) => {
  const keyCount = 1_100;
  const keys = Array.from({ length: keyCount }, (_, index) => `bulk/${index.toString(16).padStart(16, '0')}`);
  const queue = new PQueue({ concurrency: 50 });
  await queue.addAll(keys.map((key, index) => () => store.put(key, patternBytes(index % 7))));
  await store.put('zz-after', patternBytes(1));
  const listed = await collect(store.list({ prefix: 'bulk/' }));
  t.is(listed.length, keyCount);
  t.deepEqual(
    listed.map((item) => item.key),
    keys,
  );
  t.deepEqual(
    listed.map((item) => item.sizeBytes),
    keys.map((_, index) => index % 7),
  );
  t.deepEqual(await listKeys(store, { startAfter: keys[1_049] ?? '' }), [...keys.slice(1_050), 'zz-after']);
  const firstThree: string[] = [];
  for await (const item of store.list()) {
    firstThree.push(item.key);
    if (firstThree.length === 3) break;
  }
  t.deepEqual(firstThree, keys.slice(0, 3));
});

cases.set('a createOnly put of an existing key is refused where the store enforces it', async (t, { store, backend }) => {
  await store.put('once', patternBytes(4, 1), { createOnly: true });
  const second = store.put('once', patternBytes(4, 2), { createOnly: true });
  if (backend.createOnlyEnforced) {
    await t.throwsAsync(second, { code: 'ERR_STORE_PRECONDITION_FAILED' });
    t.deepEqual(await store.get('once'), patternBytes(4, 1), 'the first object is untouched');
  } else {
    await t.notThrowsAsync(second);
  }
  await store.delete('once');
  await t.notThrowsAsync(store.put('once', patternBytes(4, 3), { createOnly: true }), 'a deleted key can be created again');
  t.deepEqual(await listKeys(store), ['once']);
});

cases.set('of 20 concurrent createOnly puts of one key exactly one wins where enforced', async (t, { store, backend }) => {
  const bodies = Array.from({ length: 20 }, (_, index) => patternBytes(4_096, index));
  const results = await Promise.allSettled(bodies.map((body) => store.put('race', body, { createOnly: true })));
  const winners = results.flatMap((result, index) => (result.status === 'fulfilled' ? [index] : []));
  const stored = await store.get('race');
  if (backend.createOnlyEnforced) {
    t.is(winners.length, 1);
    for (const result of results) if (result.status === 'rejected') t.is((result.reason as { code?: unknown }).code, 'ERR_STORE_PRECONDITION_FAILED');
    t.deepEqual(stored, bodies[winners[0] ?? -1]);
  } else {
    t.is(winners.length, bodies.length);
    t.true(bodies.some((body) => Buffer.from(body).equals(stored)), 'the stored object is one whole body');
  }
  t.deepEqual(await listKeys(store), ['race']);
});

cases.set('concurrent plain puts of one key all succeed and leave one whole body', async (t, { store }) => {
  const bodies = Array.from({ length: 20 }, (_, index) => patternBytes(8_192, index));
  await Promise.all(bodies.map((body) => store.put('last-writer', body)));
  const stored = await store.get('last-writer');
  t.true(bodies.some((body) => Buffer.from(body).equals(stored)));
  t.deepEqual(await listKeys(store), ['last-writer']);
});

const INVALID_KEYS = ['', '/a', 'a/', 'a//b', '.', '..', 'a/./b', 'a/../b', '.hidden', 'a/.b', 'x'.repeat(KEY_MAX_BYTES + 1), 'é'.repeat(513), 'a\0b', '\uD800'];

cases.set('invalid keys are refused by every operation', async (t, { store }) => {
  for (const key of INVALID_KEYS) {
    const label = JSON.stringify(key.slice(0, 20));
    await t.throwsAsync(store.put(key, patternBytes(1)), { code: 'ERR_STORE_INVALID_KEY' }, `put ${label}`);
    await t.throwsAsync(store.put(key, patternBytes(1), { createOnly: true }), { code: 'ERR_STORE_INVALID_KEY' }, `put createOnly ${label}`);
    await t.throwsAsync(store.get(key), { code: 'ERR_STORE_INVALID_KEY' }, `get ${label}`);
    await t.throwsAsync(store.head(key), { code: 'ERR_STORE_INVALID_KEY' }, `head ${label}`);
    await t.throwsAsync(store.delete(key), { code: 'ERR_STORE_INVALID_KEY' }, `delete ${label}`);
  }
  t.deepEqual(await listKeys(store), []);
});

cases.set('a key of exactly 1,024 bytes with unusual characters is valid', async (t, { store }) => {
  const longKey = ['a'.repeat(255), 'b'.repeat(255), 'c'.repeat(255), 'd'.repeat(254), 'e'].join('/');
  t.is(Buffer.byteLength(longKey), KEY_MAX_BYTES);
  const oddKey = 'odd/sp ace+plus=eq%25&amp;(paren)~tilde,comma;semi:colon@at$é😀';
  await store.put(longKey, patternBytes(3));
  await store.put(oddKey, patternBytes(4));
  t.deepEqual(await store.get(longKey), patternBytes(3));
  t.deepEqual(await store.head(oddKey), { key: oddKey, sizeBytes: 4 });
  t.deepEqual(await listKeys(store), sortByUtf8([longKey, oddKey]));
});

cases.set('list shows exactly the keys put, never temporary or failed writes', async (t, { store, backend }) => {
  await store.put('visible/one', patternBytes(10));
  await store.put('visible/two', patternBytes(10), { createOnly: true });
  await store.put('visible/two', patternBytes(10), { createOnly: true }).catch(() => undefined);
  await store.put('x/.hidden', patternBytes(1)).catch(() => undefined);
  const expected = ['visible/one', 'visible/two'];
  t.deepEqual(await listKeys(store), expected, backend.name);
});

for (const backend of backends) {
  for (const [title, run] of cases) {
    test(`${backend.name}: ${title}`, async (t) => {
      const opened = await backend.open();
      try {
        await run(t, { store: opened.store, opened, backend });
      } finally {
        await opened.dispose();
      }
    });
  }
}
