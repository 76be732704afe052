/**
 * Moving objects aside to `archive/<batchId>/<key>` (DESIGN.md §1 "No silent loss"): copy,
 * then delete; an object is never deleted unless its copy was stored.
 */
import { formatArchiveKey } from '../logformat/keys.js';
import type { ObjectStore } from '../store/object-store.js';
import { RecoveryError } from './errors.js';
import { type Sleeper, withRetries } from './retry.js';
import { isPreconditionFailed } from './store-errors.js';

export async function archiveObject(options: { store: ObjectStore; clock: Sleeper; batchId: string; key: string }): Promise<void> {
  const { store, clock, key } = options;
  const archiveKey = formatArchiveKey({ batchId: options.batchId, key });
  const bytes = await withRetries({ clock, what: 'read (to archive)', objectKey: key, run: () => store.get(key) });
  await withRetries({
    clock,
    what: 'copy to the archive',
    objectKey: key,
    run: async () => {
      try {
        await store.put(archiveKey, bytes, { createOnly: true });
      } catch (error) {
        if (!isPreconditionFailed(error)) throw error;
        // Our own earlier attempt may have landed; anything else there is not ours to replace.
        const stored = await store.get(archiveKey);
        if (Buffer.compare(stored, bytes) !== 0) {
          throw new RecoveryError('ERR_RECOVERY_STORE_FAILED', `Cannot archive "${key}": "${archiveKey}" already exists with different contents`, { objectKey: key });
        }
      }
    },
  });
  await withRetries({ clock, what: 'delete (after archiving)', objectKey: key, run: () => store.delete(key) });
}
