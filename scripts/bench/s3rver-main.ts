/**
 * s3rver in its own process, for the benchmark: prints `ready <endpoint>` once listening and
 * stops on SIGTERM or SIGINT, or when its parent goes away.
 *
 *   node --import tsx scripts/bench/s3rver-main.ts --directory /tmp/s3 --bucket bench
 */

import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { startS3rver } from './s3rver.js';

const PARENT_CHECK_INTERVAL_MS = 1000;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { directory: { type: 'string' }, bucket: { type: 'string' } } });
  if (values.directory === undefined || values.bucket === undefined) {
    throw new Error('give --directory and --bucket');
  }
  const server = await startS3rver({ directory: values.directory, bucket: values.bucket });
  process.stdout.write(`ready ${server.endpoint}\n`);
  const parentPid = process.ppid;
  // An orphan is re-parented (to init or a subreaper): then nobody will stop this server.
  const orphaned = new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (process.ppid !== parentPid) {
        clearInterval(timer);
        resolve();
      }
    }, PARENT_CHECK_INTERVAL_MS);
    process.once('SIGTERM', () => clearInterval(timer));
    process.once('SIGINT', () => clearInterval(timer));
  });
  await Promise.race([once(process, 'SIGTERM'), once(process, 'SIGINT'), orphaned]);
  await server.close();
}

main().catch((error: unknown) => {
  process.stderr.write(`s3rver-main: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
