/**
 * openStore picks the backend a StoreConfig names.
 */
import * as fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { FileStore } from '../../store/file-store.js';
import { MemoryStore } from '../../store/memory-store.js';
import { openStore } from '../../store/open-store.js';
import { S3Store } from '../../store/s3-store.js';

test('each config kind opens its backend with a description that names where the data is', async (t) => {
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'lsvd-open-store-'));
  try {
    const memory = await openStore({ kind: 'memory' });
    t.true(memory instanceof MemoryStore);
    const file = await openStore({ kind: 'file', directory: path.join(directory, 'volume') });
    t.true(file instanceof FileStore);
    t.is(file.description, `file://${directory}/volume`);
    const s3 = await openStore({
      kind: 's3',
      bucket: 'bucket',
      prefix: 'vol1/',
      region: 'us-east-1',
      forcePathStyle: false,
      credentials: { accessKeyId: 'id', secretAccessKey: 'very-secret' },
    });
    t.true(s3 instanceof S3Store);
    t.is(s3.description, 's3://bucket/vol1/');
    await Promise.all([memory.close(), file.close(), s3.close()]);
  } finally {
    await fs.rm(directory, { recursive: true, force: true });
  }
});
