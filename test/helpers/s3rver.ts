/**
 * An in-process s3rver (npm `s3rver`, a fake S3 speaking the real HTTP API) on 127.0.0.1,
 * port 0, with one bucket, in a fresh temporary directory. Every test that starts one closes it.
 *
 * s3rver 3.7 is old: it has three bugs real S3 does not, each worked around here (the first
 * two on the one server instance), so the store code under test stays plain S3:
 *
 * 1. Range `bytes=0-0` returns the whole object: the controller passes `end: 0` and the store
 *    reads `options.end || Infinity`. A ranged GET of a zero-length object answers 206 with
 *    `Content-Length: 1` and no body, so the connection is reset. The patched getObject
 *    serves ranges as S3 does (the satisfiable part of the range, else 416 InvalidRange).
 * 2. ListObjectsV2 walks its directory tree in readdir order, where the folder `a` comes
 *    before the object file `a-c._S3rver_object` and before `a._S3rver_object`: keys come out
 *    as `a/b, a-c` and `ab/c, ab` instead of S3's byte order, and pagination (StartAfter /
 *    continuation token = last key) then skips keys. The patched listObjects collects the
 *    keys, sorts them by their UTF-8 bytes and pages through that.
 * 3. On Node 17+ (OpenSSL 3) every truncated ListObjectsV2 page fails with 500 InternalError:
 *    s3rver encrypts its continuation tokens with single DES (`createCipheriv('des', ...)`),
 *    which OpenSSL 3 moved to the legacy provider (ERR_OSSL_EVP_UNSUPPORTED). Triple DES with
 *    three equal keys is the same cipher as single DES and is in the default provider, so
 *    `allowSingleDes` maps the one algorithm name `des` to `des-ede3-cbc` with the key
 *    repeated. Nothing else changes; without the patch that name only ever throws.
 *
 * It also accepts and ignores `If-None-Match: *` on PUT, which is what the create-only probe
 * must detect; that is left as is.
 */
import crypto from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, type Dirent } from 'node:fs';
import * as fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { Readable, TransformOptions } from 'node:stream';
import type { S3StoreConfig } from '../../store/store-config.js';

/** s3rver's own default credentials: it accepts requests signed with these. */
export const S3RVER_ACCESS_KEY_ID = 'S3RVER';
export const S3RVER_SECRET_ACCESS_KEY = 'S3RVER';
export const S3RVER_REGION = 'us-east-1';

const S3RVER_OBJECT_SUFFIX = '._S3rver_object';

let singleDesAllowed = false;

export interface S3rverInstance {
  /** e.g. `http://127.0.0.1:40123`. */
  endpoint: string;
  bucket: string;
  /** Where s3rver keeps its files; removed by close(). */
  directory: string;
  close(): Promise<void>;
  /** A config for an S3Store on this server's bucket; `prefix` is empty or ends in `/`. */
  storeConfig(prefix?: string): S3StoreConfig;
}

/** The parts of s3rver's untyped CommonJS API this helper uses. */
interface S3rverMetadata {
  'content-length': string;
  [name: string]: string;
}
interface S3rverObject {
  range?: { start: number; end: number };
}
interface S3rverFilesystemStore {
  rootDirectory: string;
  getMetadata(bucket: string, key: string): Promise<S3rverMetadata>;
  getResourcePath(bucket: string, key: string, resource: string): string;
  getObject(bucket: string, key: string, options?: { start?: number; end?: number }): Promise<S3rverObject | null>;
  listObjects(bucket: string, options: S3rverListOptions): Promise<S3rverListResult>;
}
interface S3rverListOptions {
  delimiter?: string;
  startAfter?: string;
  prefix?: string;
  maxKeys?: number;
}
interface S3rverListResult {
  objects: S3rverObject[];
  commonPrefixes: string[];
  isTruncated: boolean;
}
interface S3rverServer {
  store: S3rverFilesystemStore;
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
  httpServer?: { closeAllConnections(): void };
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverServer;
type S3ObjectConstructor = new (bucket: string, key: string, content: Readable | null, metadata: S3rverMetadata) => S3rverObject;

// s3rver ships CommonJS without types; require it so the rest of this file stays typed.
const require = createRequire(import.meta.url);
const S3rver = require('s3rver') as S3rverConstructor;
const S3Object = require('s3rver/lib/models/object') as S3ObjectConstructor;

export async function startS3rver(options: { bucket?: string } = {}): Promise<S3rverInstance> {
  const bucket = options.bucket ?? 'lsvd-test';
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'lsvd-s3rver-'));
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory, configureBuckets: [{ name: bucket }] });
  allowSingleDes();
  patchRangedGet(server.store);
  patchListOrder(server.store);
  let port: number;
  try {
    ({ port } = await server.run());
  } catch (error) {
    await fs.rm(directory, { recursive: true, force: true });
    throw error;
  }
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    directory,
    async close() {
      const closed = server.close();
      // Keep-alive sockets from clients that were not closed must not hold the test open.
      server.httpServer?.closeAllConnections();
      await closed;
      await fs.rm(directory, { recursive: true, force: true });
    },
    storeConfig(prefix = '') {
      return {
        kind: 's3',
        bucket,
        prefix,
        endpoint,
        region: S3RVER_REGION,
        forcePathStyle: true,
        credentials: { accessKeyId: S3RVER_ACCESS_KEY_ID, secretAccessKey: S3RVER_SECRET_ACCESS_KEY },
      };
    },
  };
}

/** Bug 3 in the file comment. Patches node:crypto once per process, for the name `des` only. */
function allowSingleDes(): void {
  if (singleDesAllowed) return;
  singleDesAllowed = true;
  const originalCipher = crypto.createCipheriv;
  const originalDecipher = crypto.createDecipheriv;
  const asTripleDes = (algorithm: string, key: crypto.CipherKey): [string, crypto.CipherKey] =>
    algorithm.toLowerCase() === 'des' && Buffer.isBuffer(key) && key.length === 8 ? ['des-ede3-cbc', Buffer.concat([key, key, key])] : [algorithm, key];
  Object.assign(crypto, {
    createCipheriv: (algorithm: string, key: crypto.CipherKey, iv: crypto.BinaryLike | null, options?: TransformOptions) =>
      originalCipher(...asTripleDes(algorithm, key), iv, options),
    createDecipheriv: (algorithm: string, key: crypto.CipherKey, iv: crypto.BinaryLike | null, options?: TransformOptions) =>
      originalDecipher(...asTripleDes(algorithm, key), iv, options),
  });
}

/** Bug 1 in the file comment. Unranged GETs keep s3rver's own code. */
function patchRangedGet(store: S3rverFilesystemStore): void {
  const originalGetObject = store.getObject.bind(store);
  store.getObject = async (bucket, key, options) => {
    const start = options?.start;
    if (start === undefined || !Number.isSafeInteger(start)) return originalGetObject(bucket, key, options);
    let metadata: S3rverMetadata;
    try {
      metadata = await store.getMetadata(bucket, key);
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ENOENT') return null;
      throw error;
    }
    const sizeBytes = Number(metadata['content-length']);
    const range = { start, end: Math.min(options?.end ?? Number.POSITIVE_INFINITY, sizeBytes - 1) };
    if (range.start > range.end) {
      // No content with a range set: s3rver's controller answers 416 InvalidRange.
      return Object.assign(new S3Object(bucket, key, null, metadata), { range });
    }
    const content = createReadStream(store.getResourcePath(bucket, key, 'object'), range);
    await once(content, 'open');
    return Object.assign(new S3Object(bucket, key, content, metadata), { range });
  };
}

/** Bug 2 in the file comment. */
function patchListOrder(store: S3rverFilesystemStore): void {
  store.listObjects = async (bucket, options) => {
    const { prefix = '', startAfter = '', delimiter = '', maxKeys = Number.POSITIVE_INFINITY } = options;
    // Walk only the folder the prefix names (s3rver keeps `a/b` as `<bucket>/a/b._S3rver_object`).
    const prefixFolder = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    const allKeys = await collectKeys(path.join(store.rootDirectory, bucket, prefixFolder), prefixFolder);
    const keys = allKeys
      .filter((key) => key.startsWith(prefix) && Buffer.compare(Buffer.from(key), Buffer.from(startAfter)) > 0)
      .sort((left, right) => Buffer.compare(Buffer.from(left), Buffer.from(right)));
    const commonPrefixes = new Set<string>();
    const pageKeys: string[] = [];
    let isTruncated = false;
    for (const key of keys) {
      const delimiterIndex = delimiter === '' ? -1 : key.indexOf(delimiter, prefix.length);
      if (delimiterIndex !== -1) {
        commonPrefixes.add(key.slice(0, delimiterIndex + delimiter.length));
        continue;
      }
      if (pageKeys.length === maxKeys) {
        isTruncated = true;
        break;
      }
      pageKeys.push(key);
    }
    const objects = await Promise.all(
      pageKeys.map(async (key) => {
        const metadata = await store.getMetadata(bucket, key).catch(() => undefined);
        return metadata === undefined ? undefined : new S3Object(bucket, key, null, metadata);
      }),
    );
    return { objects: objects.filter((object) => object !== undefined), commonPrefixes: [...commonPrefixes].sort(), isTruncated };
  };
}

/** Every object key under an s3rver bucket folder (files named `<last segment>._S3rver_object`). */
async function collectKeys(directoryPath: string, keyPrefix: string): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await fs.readdir(directoryPath, { withFileTypes: true });
  } catch (error) {
    // Missing, or removed by a concurrent delete of its last object: no keys.
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw error;
  }
  const keys: string[] = [];
  for (const entry of entries) {
    if (entry.isDirectory()) keys.push(...(await collectKeys(path.join(directoryPath, entry.name), `${keyPrefix}${entry.name}/`)));
    else if (entry.name.endsWith(S3RVER_OBJECT_SUFFIX)) keys.push(keyPrefix + entry.name.slice(0, -S3RVER_OBJECT_SUFFIX.length));
  }
  return keys;
}
