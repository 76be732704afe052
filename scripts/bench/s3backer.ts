/**
 * s3backer (Debian `s3backer` 1.5.4, FUSE): the peer of the S3 rows, mounted against the same
 * s3rver through the same latency proxy as lsvd.
 *
 * Settings: s3backer's defaults (block cache 1,000 blocks, 20 writer threads, 250 ms write-back
 * delay, no `--listBlocks`, region us-east-1), authenticating with s3rver's built-in key over
 * path-style URLs. (Giving `--region` makes s3backer 1.5.4 switch to virtual-host URLs,
 * `http://<bucket>.127.0.0.1:PORT/`, which do not resolve: so it is left at its default.)
 * Block size per scenario (see docs/BENCHMARKS.md): 4 KiB, its default and the size its manual
 * says to match to the workload, for 4 KiB random I/O; 128 KiB, its fastest here, for
 * sequential I/O.
 *
 * s3backer 1.5.4 answers fsync(2) at once without writing its cache back (fuse_ops.c
 * `fuse_op_fsync` returns 0), so "until the data is in the bucket" is measured by polling its
 * `stats` file until no cache entry is dirty or being written.
 */

import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CleanupStack } from './cleanup.js';
import { BenchError } from './errors.js';
import { fileExists, unmountFuse } from './fuse.js';
import type { StartedProcess } from './processes.js';
import { startProcess, stopProcess, waitUntil } from './processes.js';
import { S3RVER_CREDENTIALS } from './s3rver.js';

const S3BACKER_MOUNT_TIMEOUT_MS = 30_000;
/** At unmount s3backer writes back every dirty block (fuse_op_destroy) before it exits. */
const S3BACKER_EXIT_TIMEOUT_MS = 5 * 60_000;

export interface S3backerMount {
  /** The backed file, for fio. */
  path: string;
  mountDirectory: string;
  process: StartedProcess;
  /** s3backer's counters (`stats` file), e.g. `http_puts`, `block_cache_dirty_ratio`. */
  readStats(): Promise<Record<string, number>>;
  /** Resolves once nothing is dirty or in flight in the block cache; returns how long that took. */
  waitUntilWrittenBack(timeoutMs: number): Promise<number>;
  unmount(): Promise<void>;
}

/** Parses lines like `http_puts                    81` and `http_avg_put_time            0.098 sec`. */
export function parseS3backerStats(text: string): Record<string, number> {
  const stats: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = /^(\w+)\s+(-?[\d.]+)/.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined) {
      stats[match[1]] = Number(match[2]);
    }
  }
  return stats;
}

export async function mountS3backer(options: {
  /** The proxy's `http://127.0.0.1:PORT`. */
  endpoint: string;
  bucket: string;
  /** Key prefix inside the bucket, ending in `/`. */
  prefix: string;
  sizeBytes: number;
  blockSizeBytes: number;
  workDirectory: string;
  name: string;
  cleanup: CleanupStack;
}): Promise<S3backerMount> {
  const mountDirectory = join(options.workDirectory, `${options.name}-mount`);
  await mkdir(mountDirectory, { recursive: true });
  const started = startProcess({
    command: 's3backer',
    args: [
      '-f',
      `--baseURL=${options.endpoint}/`,
      `--accessId=${S3RVER_CREDENTIALS.accessKeyId}`,
      `--accessKey=${S3RVER_CREDENTIALS.secretAccessKey}`,
      `--size=${options.sizeBytes}`,
      `--blockSize=${options.blockSizeBytes}`,
      `--prefix=${options.prefix}`,
      options.bucket,
      mountDirectory,
    ],
    logPath: join(options.workDirectory, `${options.name}-s3backer.log`),
  });
  const unmount = (): Promise<void> => unmountFuse({ mountDirectory, process: started, exitTimeoutMs: S3BACKER_EXIT_TIMEOUT_MS });
  options.cleanup.defer(`unmount ${mountDirectory}`, unmount);
  const path = join(mountDirectory, 'file');
  try {
    await waitUntil({ what: 's3backer mount', condition: () => fileExists(path), timeoutMs: S3BACKER_MOUNT_TIMEOUT_MS, process: started });
  } catch (error) {
    // Not mounted, so nothing to write back: s3backer may be deep in its retry loop, so kill it.
    await stopProcess(started, { signal: 'SIGKILL', timeoutMs: S3BACKER_MOUNT_TIMEOUT_MS }).catch(() => undefined);
    throw error;
  }

  const readStats = async (): Promise<Record<string, number>> => parseS3backerStats(await readFile(join(mountDirectory, 'stats'), 'utf8'));
  return {
    path,
    mountDirectory,
    process: started,
    readStats,
    async waitUntilWrittenBack(timeoutMs: number): Promise<number> {
      const startedMs = performance.now();
      await waitUntil({
        what: 's3backer write-back',
        condition: async () => {
          const dirtyRatio = (await readStats())['block_cache_dirty_ratio'];
          if (dirtyRatio === undefined) {
            throw new BenchError('ERR_BENCH_S3BACKER_STATS', 's3backer stats have no block_cache_dirty_ratio line');
          }
          return dirtyRatio === 0;
        },
        timeoutMs,
        process: started,
      });
      return performance.now() - startedMs;
    },
    unmount,
  };
}
