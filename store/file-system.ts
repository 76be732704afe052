/**
 * Small file-system steps the file store is built from, each with the durability it promises,
 * and the mapping of Node's errno codes to StoreError codes.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import path from 'node:path';
import type { StoreErrorCode } from './errors.js';

/** The errno code of a Node system error (`ENOENT`, ...), if it has one. */
export function errnoCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}

/** The StoreError code for an errno that is not a missing object (callers handle ENOENT first). */
export function storeCodeForErrno(code: string | undefined): StoreErrorCode {
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return 'ERR_STORE_ACCESS_DENIED';
    case 'EMFILE':
    case 'ENFILE':
    case 'EAGAIN':
    case 'EBUSY':
    case 'EINTR':
      return 'ERR_STORE_UNAVAILABLE';
    case 'ENAMETOOLONG':
      return 'ERR_STORE_INVALID_KEY';
    default:
      // ENOSPC, EDQUOT, EIO, EROFS, ...: the directory cannot take the write; retrying the
      // same request does not help until an operator acts.
      return 'ERR_STORE_FAILED';
  }
}

/** Writes `body` to a new file at `filePath` and fsyncs it, so a later rename/link publishes complete bytes. */
export async function writeFileDurably(filePath: string, body: Uint8Array): Promise<void> {
  // 'wx': the name is fresh, so an existing file means a bug or a stranger; never overwrite it.
  const handle = await fs.open(filePath, 'wx');
  try {
    await handle.writeFile(body);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * fsyncs a directory so that the entries created, renamed or removed in it survive a crash
 * (rename(2) and link(2) are atomic but not durable until the directory is synced).
 */
export async function syncDirectory(directoryPath: string): Promise<void> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(directoryPath, 'r');
  } catch (error) {
    // Pruned by a concurrent delete of its last key: nothing left whose entries need syncing.
    if (errnoCode(error) === 'ENOENT') return;
    throw error;
  }
  try {
    await handle.sync();
  } catch (error) {
    // Some file systems (certain FUSE and network mounts) do not support fsync on a
    // directory; their metadata durability is whatever the mount provides.
    if (errnoCode(error) !== 'EINVAL' && errnoCode(error) !== 'ENOTSUP') throw error;
  } finally {
    await handle.close();
  }
}

/** Deletes a file, succeeding when it is already gone. */
export async function unlinkIfPresent(filePath: string): Promise<void> {
  try {
    await fs.unlink(filePath);
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') throw error;
  }
}

/** Whether `filePath` names a directory (following symlinks); false when it does not exist. */
export async function isDirectory(filePath: string): Promise<boolean> {
  try {
    return (await fs.stat(filePath)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The directories whose entries a put changed and must fsync, parents first: the parent of
 * the first directory mkdir created, every directory it created, and the object's own parent.
 */
export function directoriesToSync(options: { firstCreated: string | undefined; parentDirectory: string }): string[] {
  const { firstCreated, parentDirectory } = options;
  if (firstCreated === undefined) return [parentDirectory];
  assert(parentDirectory.startsWith(firstCreated), `${parentDirectory} is not under ${firstCreated}`);
  const stopAt = path.dirname(firstCreated);
  const chain: string[] = [];
  for (let directory = parentDirectory; directory !== stopAt; directory = path.dirname(directory)) chain.push(directory);
  chain.push(stopAt);
  return chain.reverse();
}
