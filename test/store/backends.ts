/**
 * The backends the conformance suite runs against, each opened fresh per test: memory, file
 * (a temporary directory) and s3 (one s3rver per test file; each test gets its own prefix).
 */
import * as fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestFn } from 'ava';
import { FileStore } from '../../store/file-store.js';
import { MemoryStore } from '../../store/memory-store.js';
import type { ObjectStore } from '../../store/object-store.js';
import { S3Store } from '../../store/s3-store.js';
import { type S3rverInstance, startS3rver } from '../helpers/s3rver.js';

export interface OpenedStore {
  store: ObjectStore;
  /** The file store's directory; undefined for the others. */
  directory: string | undefined;
  /** Closes the store and removes what the test left behind. */
  dispose(): Promise<void>;
}

export interface Backend {
  name: 'memory' | 'file' | 's3';
  /** Whether a createOnly put of an existing key is refused (s3rver ignores If-None-Match). */
  createOnlyEnforced: boolean;
  open(): Promise<OpenedStore>;
}

/** Registers an after.always hook on `test` that closes the shared s3rver, if one was started. */
export function registerBackends(test: TestFn): Backend[] {
  let server: Promise<S3rverInstance> | undefined;
  let prefixCount = 0;
  test.after.always(async () => {
    if (server !== undefined) await (await server).close();
  });
  return [
    {
      name: 'memory',
      createOnlyEnforced: true,
      async open() {
        const store = new MemoryStore();
        return { store, directory: undefined, dispose: () => store.close() };
      },
    },
    {
      name: 'file',
      createOnlyEnforced: true,
      async open() {
        const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'lsvd-file-store-'));
        const store = await FileStore.open(directory);
        return {
          store,
          directory,
          async dispose() {
            await store.close();
            await fs.rm(directory, { recursive: true, force: true });
          },
        };
      },
    },
    {
      name: 's3',
      createOnlyEnforced: false,
      async open() {
        server ??= startS3rver();
        prefixCount += 1;
        const prefix = `test-${prefixCount}/`;
        const store = new S3Store((await server).storeConfig(prefix), { maxAttempts: 2 });
        return { store, directory: undefined, dispose: () => store.close() };
      },
    },
  ];
}

/** Every key and size a list yields, in order. */
export async function collect(iterable: AsyncIterable<{ key: string; sizeBytes: number }>): Promise<Array<{ key: string; sizeBytes: number }>> {
  const items: Array<{ key: string; sizeBytes: number }> = [];
  for await (const item of iterable) items.push(item);
  return items;
}

export async function listKeys(store: ObjectStore, options: { prefix?: string; startAfter?: string } = {}): Promise<string[]> {
  return (await collect(store.list(options))).map((item) => item.key);
}

/** The byte order S3 lists keys in, computed independently of store/keys.ts. */
export function sortByUtf8(keys: readonly string[]): string[] {
  return [...keys].sort((left, right) => Buffer.compare(Buffer.from(left, 'utf8'), Buffer.from(right, 'utf8')));
}

/** `lengthBytes` bytes that differ at every offset mod 251 (a prime, so no power-of-two alignment hides a shift). */
export function patternBytes(lengthBytes: number, seed = 0): Uint8Array {
  const bytes = new Uint8Array(lengthBytes);
  for (let index = 0; index < lengthBytes; index++) bytes[index] = (index + seed) % 251;
  return bytes;
}
