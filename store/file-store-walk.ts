/**
 * Lists a file store's keys in ascending byte order without sorting the whole tree: it walks
 * directories depth first, visiting each directory's entries sorted by `name` for files and
 * `name/` for directories. Every key under directory `d` starts with `d/`, so this order is
 * exactly the byte order of the full keys (`a-c` < `a/b` < `ab`, as S3 lists them).
 *
 * Hidden entries (names starting with `.`, such as the store's temporary folder) are never
 * keys (store/keys.ts) and are skipped. Directories that cannot hold a key matching the prefix
 * or following startAfter are not read at all.
 */
import type { Dirent, Stats } from 'node:fs';
import * as fs from 'node:fs/promises';
import path from 'node:path';
import { compareKeys } from './keys.js';
import { errnoCode } from './file-system.js';
import type { ObjectInfo } from './object-store.js';

/** Files stat'ed at once while listing: enough to hide latency, few enough to bound open requests. */
const LIST_STATS_IN_FLIGHT_MAX = 64;

export interface WalkOptions {
  rootDirectory: string;
  prefix: string;
  startAfter: string | undefined;
}

interface WalkEntry {
  /** The key of a file, or the key prefix (`a/b/`) shared by everything in a directory. */
  keyOrPrefix: string;
  isDirectory: boolean;
}

export async function* walkObjects(options: WalkOptions): AsyncGenerator<ObjectInfo> {
  yield* walkDirectory(options, '');
}

async function* walkDirectory(options: WalkOptions, directoryPrefix: string): AsyncGenerator<ObjectInfo> {
  const entries = await readSortedEntries(options.rootDirectory, directoryPrefix);
  let pendingFiles: string[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory) {
      if (fileMatches(options, entry.keyOrPrefix)) pendingFiles.push(entry.keyOrPrefix);
      if (pendingFiles.length < LIST_STATS_IN_FLIGHT_MAX) continue;
    }
    yield* statFiles(options.rootDirectory, pendingFiles);
    pendingFiles = [];
    if (entry.isDirectory && directoryMayMatch(options, entry.keyOrPrefix)) yield* walkDirectory(options, entry.keyOrPrefix);
  }
  yield* statFiles(options.rootDirectory, pendingFiles);
}

function fileMatches(options: WalkOptions, key: string): boolean {
  if (!key.startsWith(options.prefix)) return false;
  return options.startAfter === undefined || compareKeys(key, options.startAfter) > 0;
}

function directoryMayMatch(options: WalkOptions, directoryPrefix: string): boolean {
  const intersectsPrefix = directoryPrefix.startsWith(options.prefix) || options.prefix.startsWith(directoryPrefix);
  if (!intersectsPrefix) return false;
  const { startAfter } = options;
  // Every key under the directory extends directoryPrefix; if that already sorts before
  // startAfter at a position inside directoryPrefix, so does every key under it.
  if (startAfter === undefined || startAfter.startsWith(directoryPrefix)) return true;
  return compareKeys(directoryPrefix, startAfter) > 0;
}

async function readSortedEntries(rootDirectory: string, directoryPrefix: string): Promise<WalkEntry[]> {
  const directoryPath = path.join(rootDirectory, directoryPrefix);
  let dirents: Dirent[];
  try {
    dirents = await fs.readdir(directoryPath, { withFileTypes: true });
  } catch (error) {
    // A concurrent delete may prune a directory between listing its parent and reading it.
    if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') return [];
    throw error;
  }
  const entries: WalkEntry[] = [];
  for (const dirent of dirents) {
    if (dirent.name.startsWith('.')) continue;
    const isDirectory = dirent.isSymbolicLink() ? await isDirectoryTarget(path.join(directoryPath, dirent.name)) : dirent.isDirectory();
    if (isDirectory === undefined) continue;
    const keyOrPrefix = directoryPrefix + dirent.name + (isDirectory ? '/' : '');
    if (isDirectory || dirent.isFile() || dirent.isSymbolicLink()) entries.push({ keyOrPrefix, isDirectory });
  }
  return entries.sort((left, right) => compareKeys(left.keyOrPrefix, right.keyOrPrefix));
}

/** A symlink counts as what it points to, as `aws s3 sync` follows it; a dangling one is skipped. */
async function isDirectoryTarget(linkPath: string): Promise<boolean | undefined> {
  try {
    const target = await fs.stat(linkPath);
    if (target.isDirectory()) return true;
    return target.isFile() ? false : undefined;
  } catch {
    return undefined;
  }
}

async function* statFiles(rootDirectory: string, keys: string[]): AsyncGenerator<ObjectInfo> {
  if (keys.length === 0) return;
  const stats = await Promise.all(keys.map((key) => statIfFile(path.join(rootDirectory, key))));
  for (const [index, key] of keys.entries()) {
    const stat = stats[index];
    // Deleted (or replaced by a directory) since the directory was read: not listed.
    if (stat !== undefined) yield { key, sizeBytes: stat.size };
  }
}

async function statIfFile(filePath: string): Promise<Stats | undefined> {
  try {
    const stat = await fs.stat(filePath);
    return stat.isFile() ? stat : undefined;
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}
