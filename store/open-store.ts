/**
 * Opens the backend a StoreConfig names: the one place that chooses between them.
 */
import { FileStore } from './file-store.js';
import { MemoryStore } from './memory-store.js';
import type { ObjectStore } from './object-store.js';
import { S3Store } from './s3-store.js';
import type { StoreConfig } from './store-config.js';

export async function openStore(config: StoreConfig): Promise<ObjectStore> {
  switch (config.kind) {
    case 's3':
      return new S3Store(config);
    case 'file':
      return FileStore.open(config.directory);
    case 'memory':
      return new MemoryStore();
  }
}
