/**
 * A volume of N log objects in the bucket, for the recovery benchmark: valid Fly-format objects
 * (DESIGN.md §1: 12,288-byte header, then the data of each entry), keys 1..N with no gap, and
 * lsvd's volume descriptor, as a volume lsvd wrote itself would have.
 *
 * The objects are written once through the S3 API, straight to s3rver; each timed run then gets
 * its own copy of that prefix, made on s3rver's disk (s3rver keeps key `a/b` as the files
 * `<directory>/<bucket>/a/b._S3rver_*`), so that whatever a run writes (a lease, a checkpoint)
 * never helps the next one, and no run pays 10,000 PUTs.
 */

import { cp, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import PQueue from 'p-queue';
import { formatLogKey, VOLUME_DESCRIPTOR_KEY } from '../../logformat/keys.js';
import { SECTOR_SIZE_BYTES } from '../../logformat/limits.js';
import { encodeLogObject } from '../../logformat/log-object.js';
import { encodeVolumeDescriptor, VOLUME_FORMAT_VERSION } from '../../logformat/volume-descriptor.js';
import { createSeededRandom } from '../s3-proxy/seeded-random.js';
import { BenchError } from './errors.js';

/** Each fixture object records this many 4 KiB writes: small objects, so that the fixture is quick to make. */
export const FIXTURE_ENTRIES_PER_OBJECT = 8;
/** PUTs in flight while writing the fixture. */
export const FIXTURE_PUTS_IN_FLIGHT_MAX = 64;

/** The object with this sequence number: `FIXTURE_ENTRIES_PER_OBJECT` seeded-random sector writes. */
export function fixtureLogObject(options: { sequence: number; volumeSizeBytes: number; seed: number }): Uint8Array {
  const random = createSeededRandom(options.seed * 1_000_003 + options.sequence);
  const sectorCount = Math.floor(options.volumeSizeBytes / SECTOR_SIZE_BYTES);
  const entries = Array.from({ length: FIXTURE_ENTRIES_PER_OBJECT }, (_, index) => ({
    addressBytes: Math.floor(random() * sectorCount) * SECTOR_SIZE_BYTES,
    data: new Uint8Array(SECTOR_SIZE_BYTES).fill((options.sequence + index) & 0xff),
  }));
  return encodeLogObject(entries);
}

export async function writeLogObjectFixture(options: {
  client: S3Client;
  bucket: string;
  /** Ends in `/`. */
  prefix: string;
  objectCount: number;
  volumeSizeBytes: number;
  seed: number;
}): Promise<void> {
  const descriptor = encodeVolumeDescriptor({
    formatVersion: VOLUME_FORMAT_VERSION,
    volumeId: `bench-recovery-${options.objectCount}`,
    sizeBytes: options.volumeSizeBytes,
    sectorSizeBytes: SECTOR_SIZE_BYTES,
    createdAt: new Date().toISOString(),
  });
  await options.client.send(new PutObjectCommand({ Bucket: options.bucket, Key: `${options.prefix}${VOLUME_DESCRIPTOR_KEY}`, Body: descriptor }));
  const queue = new PQueue({ concurrency: FIXTURE_PUTS_IN_FLIGHT_MAX });
  for (let sequence = 1; sequence <= options.objectCount; sequence += 1) {
    // Waiting for room in the queue keeps at most one batch of objects in memory.
    await queue.onSizeLessThan(FIXTURE_PUTS_IN_FLIGHT_MAX);
    void queue.add(async () => {
      const body = fixtureLogObject({ sequence, volumeSizeBytes: options.volumeSizeBytes, seed: options.seed });
      await options.client.send(new PutObjectCommand({ Bucket: options.bucket, Key: `${options.prefix}${formatLogKey(sequence)}`, Body: body }));
    });
  }
  await queue.onIdle();
}

/** s3rver's on-disk folder of a key prefix (prefixes end in `/`, so they are folders). */
function prefixDirectory(options: { s3rverDirectory: string; bucket: string; prefix: string }): string {
  return join(options.s3rverDirectory, options.bucket, options.prefix);
}

/** Copies every object under `fromPrefix` to `toPrefix`, on s3rver's disk; returns the object count. */
export async function copyPrefixOnDisk(options: { s3rverDirectory: string; bucket: string; fromPrefix: string; toPrefix: string }): Promise<number> {
  const from = prefixDirectory({ ...options, prefix: options.fromPrefix });
  const to = prefixDirectory({ ...options, prefix: options.toPrefix });
  await cp(from, to, { recursive: true, errorOnExist: true, force: false });
  const objectCount = (await readdir(to)).filter((name) => name.endsWith('._S3rver_object')).length;
  if (objectCount === 0) {
    throw new BenchError('ERR_BENCH_COMMAND_FAILED', `copying ${from} to ${to} copied no objects: has s3rver's disk layout changed?`);
  }
  return objectCount;
}
