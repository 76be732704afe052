/**
 * Publishes a fully written, fsynced temporary file under its key: the one step of a file
 * store put that makes the object visible, atomically.
 */
import * as fs from 'node:fs/promises';
import path from 'node:path';
import { StoreError } from './errors.js';
import { directoriesToSync, errnoCode, isDirectory } from './file-system.js';

/**
 * A delete prunes empty folders, so it may remove a folder while this put's mkdir -p walks
 * through it or between the mkdir and the rename (ENOENT); the put then makes the folders
 * again, at most this many times.
 */
const PLACE_ATTEMPTS_MAX = 16;

export interface PlaceFileOptions {
  rootDirectory: string;
  /** Already validated (store/keys.ts). */
  key: string;
  tempPath: string;
  /** link(2) instead of rename(2): fails with EEXIST rather than replace an existing object. */
  createOnly: boolean;
  /** Names the store in error messages. */
  description: string;
}

/** Returns the directories whose entries changed, parents first; the caller fsyncs them. */
export async function placeFile(options: PlaceFileOptions): Promise<string[]> {
  const objectPath = path.join(options.rootDirectory, ...options.key.split('/'));
  const parentDirectory = path.dirname(objectPath);
  const changed = new Set<string>();
  for (let attempt = 1; ; attempt++) {
    try {
      const firstCreated = await makeParentDirectory({ ...options, parentDirectory });
      for (const directory of directoriesToSync({ firstCreated, parentDirectory })) changed.add(directory);
      if (options.createOnly) await fs.link(options.tempPath, objectPath);
      else await fs.rename(options.tempPath, objectPath);
      return [...changed];
    } catch (error) {
      const code = errnoCode(error);
      if (code === 'ENOENT' && attempt < PLACE_ATTEMPTS_MAX) continue;
      if (code === 'EEXIST' && options.createOnly && !(await isDirectory(objectPath))) {
        throw new StoreError('ERR_STORE_PRECONDITION_FAILED', `Object ${JSON.stringify(options.key)} already exists in ${options.description}`, {
          key: options.key,
        });
      }
      if (code === 'EEXIST' || code === 'EISDIR' || code === 'ENOTDIR' || code === 'ENOTEMPTY') throw folderConflict(options);
      throw error;
    }
  }
}

/** mkdir -p of the object's parent; returns the first directory it created, if any. */
async function makeParentDirectory(options: PlaceFileOptions & { parentDirectory: string }): Promise<string | undefined> {
  if (options.parentDirectory === options.rootDirectory) return undefined;
  try {
    return await fs.mkdir(options.parentDirectory, { recursive: true });
  } catch (error) {
    // A segment of the key's folder path is already an object (a file).
    if (errnoCode(error) === 'EEXIST' || errnoCode(error) === 'ENOTDIR') throw folderConflict(options);
    throw error;
  }
}

function folderConflict(options: PlaceFileOptions): StoreError {
  return new StoreError(
    'ERR_STORE_INVALID_KEY',
    `Cannot store ${JSON.stringify(options.key)} in ${options.description}: a file store cannot hold an object and other keys under it as a folder (like "a" and "a/b")`,
    { key: options.key },
  );
}
