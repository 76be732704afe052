/**
 * Makes s3rver's PutObject atomic, as S3's is, in this process.
 *
 * S3 stores an object only once its whole body has arrived ("Amazon S3 never adds partial
 * objects; if you receive a success response, Amazon S3 added the entire object": PutObject,
 * S3 API reference). s3rver 3.7 streams the body straight into the object's file
 * (lib/stores/filesystem.js `putObject`: `fs.createWriteStream(objectPath)`), so a client
 * killed in the middle of an upload leaves a truncated object that lists and reads like a
 * real one. A crash test kills clients mid-upload on purpose, and then meets a zero-byte
 * log object that S3 could never hold. Here the body goes to a temporary file beside the
 * object (one s3rver's listing never shows: it lists names ending in `._S3rver_object`), and
 * is renamed into place only when it arrived whole.
 */

import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** The parts of s3rver's untyped FilesystemStore and S3Object this patch uses. */
interface PutObjectArgument {
  bucket: string;
  key: string;
  content: Readable | Buffer;
  metadata: Record<string, string>;
}
interface FilesystemStorePrototype {
  getResourcePath(bucket: string, key: string, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5: string): Promise<void>;
  putObject(object: PutObjectArgument): Promise<{ size: number; md5: string }>;
}

const require = createRequire(import.meta.url);
let patched = false;

async function writeWhole(options: { content: Readable | Buffer; temporaryPath: string }): Promise<{ size: number; md5: string }> {
  const md5 = createHash('md5');
  let size = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      md5.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
  });
  const source = Buffer.isBuffer(options.content) ? [options.content] : options.content;
  // pipeline rejects when the client goes away mid-body, where s3rver's own pipe() keeps the part.
  await pipeline(source, counter, createWriteStream(options.temporaryPath));
  return { size, md5: md5.digest('hex') };
}

export function makeS3rverPutsAtomic(): void {
  if (patched) return;
  patched = true;
  const FilesystemStore = require('s3rver/lib/stores/filesystem') as { prototype: FilesystemStorePrototype };
  FilesystemStore.prototype.putObject = async function putObject(this: FilesystemStorePrototype, object: PutObjectArgument) {
    const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
    const temporaryPath = `${objectPath}.${randomBytes(6).toString('hex')}.partial`;
    await mkdir(dirname(objectPath), { recursive: true });
    let written: { size: number; md5: string };
    try {
      written = await writeWhole({ content: object.content, temporaryPath });
      await rename(temporaryPath, objectPath);
    } catch (error) {
      await rm(temporaryPath, { force: true });
      throw error;
    }
    await this.putMetadata(object.bucket, object.key, object.metadata, written.md5);
    return written;
  };
}
