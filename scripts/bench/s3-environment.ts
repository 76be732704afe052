/**
 * The S3 side of a benchmark: s3rver in a child process (so that its CPU time never delays the
 * proxy's timers), and the latency proxy in this process in front of it. lsvd and s3backer both
 * talk to the proxy; fixtures are written to s3rver directly, at no added latency.
 */

import { Agent } from 'node:http';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import type { S3Proxy } from '../s3-proxy.js';
import { startS3Proxy } from '../s3-proxy.js';
import type { CleanupStack } from './cleanup.js';
import { startProcess, stopProcess, waitUntil } from './processes.js';
import { S3RVER_CREDENTIALS, S3RVER_REGION } from './s3rver.js';

const S3RVER_START_TIMEOUT_MS = 30_000;
const S3RVER_STOP_TIMEOUT_MS = 10_000;
/** The same connection budget as lsvd's uploader (DESIGN.md §3). */
export const FIXTURE_SOCKETS_MAX = 100;

export const BENCH_BUCKET = 'lsvd-bench';

export interface S3Environment {
  /** s3rver itself, without added latency. */
  s3rverEndpoint: string;
  proxy: S3Proxy;
  bucket: string;
  /** s3rver's data directory: `<directory>/<bucket>/<key>._S3rver_object`. */
  directory: string;
}

export async function startS3Environment(options: { workDirectory: string; latencyMs: number; seed: number; cleanup: CleanupStack }): Promise<S3Environment> {
  const directory = join(options.workDirectory, 's3rver');
  let s3rverEndpoint = '';
  const started = startProcess({
    command: process.execPath,
    // s3rver 3.7 encrypts ListObjectsV2 continuation tokens with DES (lib/controllers/bucket.js),
    // which OpenSSL 3 only offers through its legacy provider: without it, every listing longer
    // than one page fails with 500 InternalError (ERR_OSSL_EVP_UNSUPPORTED).
    args: ['--openssl-legacy-provider', '--import', 'tsx', join(import.meta.dirname, 's3rver-main.ts'), '--directory', directory, '--bucket', BENCH_BUCKET],
    logPath: join(options.workDirectory, 's3rver.log'),
    onStdoutLine: (line) => {
      s3rverEndpoint = /^ready (\S+)$/.exec(line)?.[1] ?? s3rverEndpoint;
    },
  });
  options.cleanup.defer('stop s3rver', () => stopProcess(started, { signal: 'SIGTERM', timeoutMs: S3RVER_STOP_TIMEOUT_MS }));
  await waitUntil({ what: 's3rver', condition: () => s3rverEndpoint !== '', timeoutMs: S3RVER_START_TIMEOUT_MS, process: started });
  const proxy = await startS3Proxy({ upstream: s3rverEndpoint, latencyMs: options.latencyMs, jitterMs: 0, seed: options.seed });
  options.cleanup.defer('close the S3 proxy', () => proxy.close());
  return { s3rverEndpoint, proxy, bucket: BENCH_BUCKET, directory };
}

/** A client for s3rver (or the proxy), with the connection budget spelled out. */
export function createS3Client(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region: S3RVER_REGION,
    forcePathStyle: true,
    credentials: S3RVER_CREDENTIALS,
    maxAttempts: 3,
    // The SDK builds its Node HTTP handler from these options.
    requestHandler: { httpAgent: new Agent({ keepAlive: true, maxSockets: FIXTURE_SOCKETS_MAX }) },
  });
}
