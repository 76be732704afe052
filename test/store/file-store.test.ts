/**
 * What only the file store has: its on-disk layout (plain files at the keys' paths, so a
 * bucket sync works both ways), its hidden temporary folder, folder pruning and conflicts.
 */
import * as fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { FILE_STORE_TEMP_FOLDER, FileStore, STALE_TEMP_FILE_AGE_MS } from '../../store/file-store.js';
import { storeCodeForErrno } from '../../store/file-system.js';
import { listKeys, patternBytes } from './backends.js';

async function withStore(t: ExecutionContext, run: (store: FileStore, directory: string) => Promise<void>): Promise<void> {
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'lsvd-file-store-'));
  try {
    await run(await FileStore.open(directory), directory);
  } finally {
    await fs.rm(directory, { recursive: true, force: true });
  }
  t.pass();
}

test('a key put through the store is a plain file at the same relative path', async (t) => {
  await withStore(t, async (store, directory) => {
    await store.put('archive/0000000000000007', patternBytes(300, 1));
    await store.put('0000000000000001', patternBytes(10, 2), { createOnly: true });
    t.deepEqual(new Uint8Array(await fs.readFile(path.join(directory, 'archive', '0000000000000007'))), patternBytes(300, 1));
    t.deepEqual(new Uint8Array(await fs.readFile(path.join(directory, '0000000000000001'))), patternBytes(10, 2));
    t.is(store.description, `file://${directory}`);
  });
});

test('a file written with fs at dir/x/y is the key x/y', async (t) => {
  await withStore(t, async (store, directory) => {
    await fs.mkdir(path.join(directory, 'x'));
    await fs.writeFile(path.join(directory, 'x', 'y'), patternBytes(42));
    t.deepEqual(await listKeys(store), ['x/y']);
    t.deepEqual(await store.get('x/y', { range: { offsetBytes: 40, lengthBytes: 10 } }), patternBytes(42).subarray(40));
    t.deepEqual(await store.head('x/y'), { key: 'x/y', sizeBytes: 42 });
  });
});

test('the temporary folder and other hidden names are never listed, and puts leave no temporary files', async (t) => {
  await withStore(t, async (store, directory) => {
    await store.put('a/one', patternBytes(10));
    await store.put('a/one', patternBytes(10), { createOnly: true }).catch(() => undefined);
    await Promise.allSettled(Array.from({ length: 10 }, () => store.put('race', patternBytes(10), { createOnly: true })));
    await fs.writeFile(path.join(directory, '.DS_Store'), 'x');
    await fs.writeFile(path.join(directory, 'a', '.partial-download'), 'x');
    await fs.writeFile(path.join(directory, FILE_STORE_TEMP_FOLDER, 'in-progress'), 'x');
    t.deepEqual(await listKeys(store), ['a/one', 'race']);
    t.deepEqual(await fs.readdir(path.join(directory, FILE_STORE_TEMP_FOLDER)), ['in-progress']);
  });
});

test('opening a store removes stale temporary files and keeps recent ones', async (t) => {
  await withStore(t, async (_store, directory) => {
    const tempFolder = path.join(directory, FILE_STORE_TEMP_FOLDER);
    await fs.writeFile(path.join(tempFolder, 'stale'), 'x');
    await fs.writeFile(path.join(tempFolder, 'recent'), 'x');
    const staleTime = new Date(Date.now() - STALE_TEMP_FILE_AGE_MS - 60_000);
    await fs.utimes(path.join(tempFolder, 'stale'), staleTime, staleTime);
    await FileStore.open(directory);
    t.deepEqual(await fs.readdir(tempFolder), ['recent']);
  });
});

test('deleting the last key in a folder removes the empty folders, not the store directory', async (t) => {
  await withStore(t, async (store, directory) => {
    await store.put('a/b/c/key', patternBytes(1));
    await store.put('a/other', patternBytes(1));
    await store.delete('a/b/c/key');
    t.deepEqual((await fs.readdir(path.join(directory, 'a'))).sort(), ['other']);
    await store.delete('a/other');
    t.deepEqual((await fs.readdir(directory)).sort(), [FILE_STORE_TEMP_FOLDER]);
    await store.put('a/b/again', patternBytes(1));
    t.deepEqual(await listKeys(store), ['a/b/again']);
  });
});

test('a key cannot be both an object and a folder of other keys', async (t) => {
  await withStore(t, async (store) => {
    await store.put('log', patternBytes(1));
    await t.throwsAsync(store.put('log/child', patternBytes(1)), { code: 'ERR_STORE_INVALID_KEY' });
    await store.put('dir/child', patternBytes(2));
    await t.throwsAsync(store.put('dir', patternBytes(1)), { code: 'ERR_STORE_INVALID_KEY' });
    await t.throwsAsync(store.put('dir', patternBytes(1), { createOnly: true }), { code: 'ERR_STORE_INVALID_KEY' });
    await t.throwsAsync(store.get('log/child'), { code: 'ERR_STORE_NOT_FOUND' });
    t.deepEqual(await listKeys(store), ['dir/child', 'log']);
  });
});

test('puts and deletes racing in one folder never lose a put', async (t) => {
  await withStore(t, async (store) => {
    const rounds = 200;
    for (let round = 0; round < rounds; round++) {
      // The delete may empty and remove the folder between the put's mkdir and its rename.
      await Promise.all([store.put(`shared/key-${round}`, patternBytes(8, round), { createOnly: round % 2 === 0 }), store.delete(`shared/key-${round - 1}`)]);
    }
    t.deepEqual(await listKeys(store), [`shared/key-${rounds - 1}`]);
  });
});

test('opening creates a missing directory, and a path that is a file is refused', async (t) => {
  await withStore(t, async (_store, directory) => {
    const nested = path.join(directory, 'new', 'volume');
    const store = await FileStore.open(nested);
    await store.put('k', patternBytes(1));
    t.deepEqual(await listKeys(store), ['k']);
    await fs.writeFile(path.join(directory, 'plain-file'), 'x');
    await t.throwsAsync(FileStore.open(path.join(directory, 'plain-file')), { code: 'ERR_STORE_FAILED' });
  });
});

test('a replaced object read through an open handle is whole, old or new', async (t) => {
  await withStore(t, async (store) => {
    await store.put('swap', patternBytes(64 * 1024, 1));
    const reads = Array.from({ length: 20 }, () => store.get('swap'));
    const writes = Array.from({ length: 20 }, (_, index) => store.put('swap', patternBytes(64 * 1024, index + 2)));
    await Promise.all(writes);
    for (const bytes of await Promise.all(reads)) {
      t.is(bytes.byteLength, 64 * 1024);
      t.true(bytes.every((value, index) => value === (index + (bytes[0] ?? 0)) % 251), 'one consistent body');
    }
  });
});

test('file errnos map to stable store codes', (t) => {
  t.is(storeCodeForErrno('ENOSPC'), 'ERR_STORE_FAILED');
  t.is(storeCodeForErrno('EIO'), 'ERR_STORE_FAILED');
  t.is(storeCodeForErrno('EROFS'), 'ERR_STORE_FAILED');
  t.is(storeCodeForErrno('EACCES'), 'ERR_STORE_ACCESS_DENIED');
  t.is(storeCodeForErrno('EMFILE'), 'ERR_STORE_UNAVAILABLE');
  t.is(storeCodeForErrno('ENAMETOOLONG'), 'ERR_STORE_INVALID_KEY');
  t.is(storeCodeForErrno(undefined), 'ERR_STORE_FAILED');
});

test('a key segment longer than the file system allows is an invalid key', async (t) => {
  await withStore(t, async (store) => {
    await t.throwsAsync(store.put('x'.repeat(300), patternBytes(1)), { code: 'ERR_STORE_INVALID_KEY' });
  });
});
