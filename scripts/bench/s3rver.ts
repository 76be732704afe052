/**
 * Starts s3rver (npm `s3rver`, the S3 server of the tests and benchmarks) on 127.0.0.1, port 0,
 * in this process. `scripts/bench/s3rver-process.ts` runs the same thing in a child process so
 * that its CPU time does not delay the proxy's timers during a benchmark.
 *
 * On Node 17 and later s3rver can list at most one page (1,000 keys) unless Node runs with
 * `--openssl-legacy-provider`: it encrypts continuation tokens with DES. The child process
 * started by scripts/bench/s3-environment.ts has that flag; an in-process s3rver has it only if
 * this process was started with it (or NODE_OPTIONS holds it).
 */

import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';

/** s3rver's built-in account (s3rver lib/models/account.js): any other access key is refused. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;
export const S3RVER_REGION = 'us-east-1';

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverConstructor = new (options: {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  configureBuckets: Array<{ name: string }>;
}) => S3rverInstance;

// s3rver ships no type declarations; this is the part of its API used here (s3rver lib/s3rver.js).
const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor;

export interface RunningS3rver {
  /** `http://127.0.0.1:PORT`. */
  endpoint: string;
  bucket: string;
  close(): Promise<void>;
}

export async function startS3rver(options: { directory: string; bucket: string }): Promise<RunningS3rver> {
  await mkdir(options.directory, { recursive: true });
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: options.directory,
    configureBuckets: [{ name: options.bucket }],
  });
  const address = await server.run();
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    bucket: options.bucket,
    close: () => server.close(),
  };
}
