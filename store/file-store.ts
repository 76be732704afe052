/**
 * An ObjectStore in a local directory: the embedded default (DESIGN.md §2, §7).
 *
 * Layout: each key is a plain file at the same relative path under the directory (key
 * `archive/0000000000000007` is `<directory>/archive/0000000000000007`), so `aws s3 sync` or
 * `rclone sync` between a bucket prefix and the directory moves a volume either way. The
 * store's own temporary files live in the hidden folder FILE_STORE_TEMP_FOLDER, which list
 * never shows (keys may not have hidden segments, store/keys.ts).
 *
 * Durability: a put resolves only once the object is durable. It writes a temporary file,
 * fsyncs it, publishes it with rename(2) (plain put; last writer wins) or link(2) (createOnly:
 * atomic, EEXIST means the key exists), then fsyncs the parent directory and every directory
 * it created. No partially written object is ever visible under its key.
 *
 * One limit S3 does not have: a key cannot be both an object and a folder of other keys
 * (`a` and `a/b`); such a put fails with ERR_STORE_INVALID_KEY.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { StoreError, type StoreErrorCode } from './errors.js';
import { errnoCode, isDirectory, storeCodeForErrno, syncDirectory, unlinkIfPresent, writeFileDurably } from './file-system.js';
import { placeFile } from './file-store-place.js';
import { walkObjects } from './file-store-walk.js';
import { validateKey } from './keys.js';
import type { GetOptions, ListOptions, ObjectInfo, ObjectStore, PutOptions } from './object-store.js';
import { assertValidRange, ownedCopy, resolveRange } from './ranges.js';

/** The hidden folder under the store directory that holds temporary files of puts in progress. */
export const FILE_STORE_TEMP_FOLDER = '.lsvd-tmp';

/** Temporary files older than this are left by a crashed put and are removed when a store opens. */
export const STALE_TEMP_FILE_AGE_MS = 60 * 60 * 1000;

/** Errnos that mean "no object under this key" when reading: missing, a folder, or under a file. */
const MISSING_OBJECT_ERRNOS: ReadonlySet<string> = new Set(['ENOENT', 'ENOTDIR', 'EISDIR']);

export class FileStore implements ObjectStore {
  readonly description: string;
  readonly #rootDirectory: string;
  readonly #tempDirectory: string;

  private constructor(rootDirectory: string) {
    this.#rootDirectory = rootDirectory;
    this.#tempDirectory = path.join(rootDirectory, FILE_STORE_TEMP_FOLDER);
    this.description = pathToFileURL(rootDirectory).href;
  }

  /** Opens (creating if needed) the store rooted at `directory`, and clears stale temporary files. */
  static async open(directory: string): Promise<FileStore> {
    const store = new FileStore(path.resolve(directory));
    try {
      await fs.mkdir(store.#tempDirectory, { recursive: true });
    } catch (error) {
      throw store.#error(error, { operation: 'open', key: undefined });
    }
    await store.#removeStaleTempFiles();
    return store;
  }

  async put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<void> {
    validateKey(key);
    const createOnly = options.createOnly === true;
    const tempPath = path.join(this.#tempDirectory, randomUUID());
    let published = false;
    try {
      await this.#writeTempFile(tempPath, body);
      const directoriesChanged = await placeFile({ rootDirectory: this.#rootDirectory, key, tempPath, createOnly, description: this.description });
      published = true;
      for (const directory of directoriesChanged) await syncDirectory(directory);
    } catch (error) {
      if (error instanceof StoreError) throw error;
      throw this.#error(error, { operation: 'put', key });
    } finally {
      // After a rename the temporary name is gone; after a link (or a failure) it remains.
      if (createOnly || !published) await unlinkIfPresent(tempPath).catch(() => undefined);
    }
  }

  async get(key: string, options: GetOptions = {}): Promise<Uint8Array> {
    if (options.range !== undefined) assertValidRange(options.range);
    validateKey(key);
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(this.#pathOf(key), 'r');
    } catch (error) {
      throw this.#error(error, { operation: 'get', key });
    }
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) throw this.#notFound(key);
      const { startBytes, endBytes } = resolveRange(options.range, stat.size);
      const bytes = new Uint8Array(endBytes - startBytes);
      let filledBytes = 0;
      while (filledBytes < bytes.byteLength) {
        const { bytesRead } = await handle.read(bytes, filledBytes, bytes.byteLength - filledBytes, startBytes + filledBytes);
        // Objects are immutable and a replacing put renames a new inode in, so the open
        // inode cannot shrink unless something outside the store truncates it.
        if (bytesRead === 0) return ownedCopy(bytes.subarray(0, filledBytes));
        filledBytes += bytesRead;
      }
      return bytes;
    } catch (error) {
      if (error instanceof StoreError) throw error;
      throw this.#error(error, { operation: 'get', key });
    } finally {
      await handle.close();
    }
  }

  async head(key: string): Promise<ObjectInfo> {
    validateKey(key);
    try {
      const stat = await fs.stat(this.#pathOf(key));
      if (!stat.isFile()) throw this.#notFound(key);
      return { key, sizeBytes: stat.size };
    } catch (error) {
      if (error instanceof StoreError) throw error;
      throw this.#error(error, { operation: 'head', key });
    }
  }

  async *list(options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    const walk = walkObjects({ rootDirectory: this.#rootDirectory, prefix: options.prefix ?? '', startAfter: options.startAfter });
    try {
      yield* walk;
    } catch (error) {
      throw this.#error(error, { operation: 'list', key: undefined });
    }
  }

  async delete(key: string): Promise<void> {
    validateKey(key);
    const objectPath = this.#pathOf(key);
    try {
      await fs.unlink(objectPath);
    } catch (error) {
      const code = errnoCode(error);
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return;
      // EPERM is what unlink(2) on a directory gives on some systems: still no such object.
      if (code === 'EPERM' && (await isDirectory(objectPath))) return;
      throw this.#error(error, { operation: 'delete', key });
    }
    try {
      // Durable like a put: a rollback that deleted trailing log objects must stay done.
      await syncDirectory(path.dirname(objectPath));
    } catch (error) {
      throw this.#error(error, { operation: 'delete', key });
    }
    await this.#removeEmptyParents(path.dirname(objectPath));
  }

  /** Holds no open handles between calls, so there is nothing to release. */
  async close(): Promise<void> {}

  #pathOf(key: string): string {
    return path.join(this.#rootDirectory, ...key.split('/'));
  }

  async #writeTempFile(tempPath: string, body: Uint8Array): Promise<void> {
    try {
      await writeFileDurably(tempPath, body);
    } catch (error) {
      if (errnoCode(error) !== 'ENOENT') throw error;
      // The temporary folder was removed (e.g. by a sync with --delete): recreate it once.
      await fs.mkdir(this.#tempDirectory, { recursive: true });
      await writeFileDurably(tempPath, body);
    }
  }

  /** Best effort, so list stays clean: stops at the first folder still in use (or re-created). */
  async #removeEmptyParents(directory: string): Promise<void> {
    for (let current = directory; current.length > this.#rootDirectory.length; current = path.dirname(current)) {
      try {
        await fs.rmdir(current);
      } catch {
        return;
      }
    }
  }

  async #removeStaleTempFiles(): Promise<void> {
    const now = Date.now();
    const names = await fs.readdir(this.#tempDirectory).catch(() => [] as string[]);
    for (const name of names) {
      const tempPath = path.join(this.#tempDirectory, name);
      try {
        const stat = await fs.lstat(tempPath);
        if (stat.isFile() && now - stat.mtimeMs > STALE_TEMP_FILE_AGE_MS) await fs.unlink(tempPath);
      } catch {
        // Best effort: a file another process is using or has just removed is its business.
      }
    }
  }

  #notFound(key: string): StoreError {
    return new StoreError('ERR_STORE_NOT_FOUND', `No object ${JSON.stringify(key)} in ${this.description}`, { key });
  }

  #error(error: unknown, context: { operation: string; key: string | undefined }): StoreError {
    const errno = errnoCode(error);
    const isRead = context.operation === 'get' || context.operation === 'head';
    if (isRead && context.key !== undefined && errno !== undefined && MISSING_OBJECT_ERRNOS.has(errno)) return this.#notFound(context.key);
    const code: StoreErrorCode = storeCodeForErrno(errno);
    const subject = context.key === undefined ? this.description : `${JSON.stringify(context.key)} in ${this.description}`;
    const detail = error instanceof Error ? error.message : String(error);
    return new StoreError(code, `File store ${context.operation} of ${subject} failed: ${detail}`, context.key === undefined ? {} : { key: context.key });
  }
}
