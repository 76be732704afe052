/**
 * The memory store's extras for tests: its helpers, its survival across close(), and the
 * mode that models an S3 clone ignoring If-None-Match.
 */
import test from 'ava';
import { MemoryStore } from '../../store/memory-store.js';
import { listKeys, patternBytes } from './backends.js';

test('keys, peek and snapshot show the contents as copies, in list order', async (t) => {
  const store = new MemoryStore();
  await store.put('b', patternBytes(2, 1));
  await store.put('a/x', patternBytes(3, 2));
  t.deepEqual(store.keys(), ['a/x', 'b']);
  t.deepEqual(store.peek('b'), patternBytes(2, 1));
  t.is(store.peek('missing'), undefined);
  const peeked = store.peek('b');
  if (peeked !== undefined) peeked[0] = 200;
  const snapshot = store.snapshot();
  t.deepEqual([...snapshot.keys()], ['a/x', 'b']);
  t.deepEqual(snapshot.get('b'), patternBytes(2, 1), 'changing a peeked copy changes nothing');
});

test('contents survive close, so a restarted daemon sees the same bucket', async (t) => {
  const store = new MemoryStore();
  await store.put('0000000000000001', patternBytes(5));
  await store.close();
  t.deepEqual(await store.get('0000000000000001'), patternBytes(5));
});

test('with enforceCreateOnly false a createOnly put replaces the object, like a clone that ignores If-None-Match', async (t) => {
  const store = new MemoryStore({ enforceCreateOnly: false });
  await store.put('key', patternBytes(4, 1), { createOnly: true });
  await t.notThrowsAsync(store.put('key', patternBytes(4, 2), { createOnly: true }));
  t.deepEqual(store.peek('key'), patternBytes(4, 2));
});

test('a list sees keys put behind its cursor while it runs, and not keys deleted ahead of it', async (t) => {
  const store = new MemoryStore();
  for (const key of ['a', 'c', 'e']) await store.put(key, patternBytes(1));
  const seen: string[] = [];
  for await (const item of store.list()) {
    seen.push(item.key);
    if (item.key === 'a') {
      await store.put('d', patternBytes(1));
      await store.delete('e');
    }
  }
  t.deepEqual(seen, ['a', 'c', 'd']);
  t.deepEqual(await listKeys(store), ['a', 'c', 'd']);
});
