/**
 * Writes to S3 at 50 ms: 4 KiB random writes and 1 MiB sequential writes, each followed by a
 * flush whose time counts, on lsvd (through nbdfuse, the FUSE path s3backer also takes, and
 * through fio's nbd engine) and on s3backer, all against the same s3rver through the same proxy.
 * Also counts lsvd's PUTs per GiB written sequentially.
 */

import type { FioJob, FioResult } from '../jobs.js';
import { GIB_BYTES, KIB_BYTES, MIB_BYTES, nbdUnixUri, randomWriteJob, sequentialWriteJob } from '../jobs.js';
import { runFio } from '../fio.js';
import { mountNbdfuse } from '../fuse.js';
import type { ResultRow } from '../report.js';
import { measurement } from '../report.js';
import { mountS3backer } from '../s3backer.js';
import type { S3Environment } from '../s3-environment.js';
import type { Scenario, ScenarioContext } from '../scenario.js';
import { repeatRuns, requireLsvd, requireTools, runPart } from '../scenario.js';
import { requestCount, S3_LATENCY_MS, startVolume, stopEverything, withS3Environment, writeMibPerSecond } from './common.js';

const SCENARIO = `S3 at ${S3_LATENCY_MS} ms`;
/** s3backer's default block size, matching 4 KiB I/O (its manual: match the block size to the use). */
const S3BACKER_RANDOM_BLOCK_SIZE_BYTES = 4 * KIB_BYTES;
/**
 * For sequential I/O, 128 KiB: the largest write FUSE hands s3backer, so no block is read back
 * before it is written. It was the fastest of 4 KiB, 64 KiB, 128 KiB and 1 MiB here (1 MiB, the
 * size the manual suggests for cost, reads each block first); see docs/BENCHMARKS.md.
 */
const S3BACKER_SEQUENTIAL_BLOCK_SIZE_BYTES = 128 * KIB_BYTES;
/** Goals (the benchmark brief): vs s3backer on the same path, and absolute on the nbd path. */
const RANDOM_WRITE_RATIO_GOAL = 20;
const RANDOM_WRITE_NBD_IOPS_GOAL = 20_000;
const SEQUENTIAL_WRITE_RATIO_GOAL = 5;
const PUTS_PER_GIB_GOAL = 128;
/** s3backer's write-back of its whole cache (1,000 blocks, 20 threads) ends well within this. */
const S3BACKER_WRITE_BACK_TIMEOUT_MS = 10 * 60_000;

interface WriteRows {
  randomFuse: ResultRow;
  randomNbd: ResultRow;
  sequentialFuse: ResultRow;
  sequentialNbd: ResultRow;
  putsPerGib: ResultRow;
}

function plannedRows(context: ScenarioContext): WriteRows {
  const randomMetric = `4 KiB random write QD32 + fsync (${context.scale.randomWriteIoBytes / MIB_BYTES} MiB)`;
  const sequentialMetric = `1 MiB sequential write QD8 + fsync (${context.scale.sequentialWriteBytes / MIB_BYTES} MiB)`;
  const s3backerRandom = 's3backer, 4 KiB blocks, FUSE';
  const s3backerSequential = 's3backer, 128 KiB blocks, FUSE';
  return {
    randomFuse: { scenario: SCENARIO, metric: `${randomMetric}, FUSE path`, unit: 'IOPS', referenceLabel: s3backerRandom, goal: { kind: 'ratio-at-least', ratio: RANDOM_WRITE_RATIO_GOAL } },
    randomNbd: { scenario: SCENARIO, metric: `${randomMetric}, nbd engine`, unit: 'IOPS', referenceLabel: s3backerRandom, goal: { kind: 'at-least', value: RANDOM_WRITE_NBD_IOPS_GOAL } },
    sequentialFuse: { scenario: SCENARIO, metric: `${sequentialMetric}, FUSE path`, unit: 'MiB/s', referenceLabel: s3backerSequential, goal: { kind: 'ratio-at-least', ratio: SEQUENTIAL_WRITE_RATIO_GOAL } },
    sequentialNbd: { scenario: SCENARIO, metric: `${sequentialMetric}, nbd engine`, unit: 'MiB/s', referenceLabel: s3backerSequential, goal: { kind: 'none' } },
    putsPerGib: { scenario: 'S3 requests', metric: 'PUTs per GiB written sequentially (nbd engine run)', unit: 'PUT/GiB', referenceLabel: '', goal: { kind: 'at-most', value: PUTS_PER_GIB_GOAL } },
  };
}

/** s3backer's figure: fio's I/O over fio's run time plus the write-back its fsync skipped. */
async function s3backerRuns(options: { context: ScenarioContext; environment: S3Environment; job: FioJob; blockSizeBytes: number; name: string }): Promise<Array<{ result: FioResult; elapsedMs: number }>> {
  const { context, environment, job, name } = options;
  return repeatRuns({
    context,
    name,
    action: async ({ runIndex, directory, cleanup }) => {
      const mount = await mountS3backer({
        endpoint: environment.proxy.endpoint,
        bucket: environment.bucket,
        prefix: `${name}-${runIndex + 1}/`,
        sizeBytes: context.scale.volumeSizeBytes,
        blockSizeBytes: options.blockSizeBytes,
        workDirectory: directory,
        name: 's3backer',
        cleanup,
      });
      const result = await runFio({ job, target: { kind: 'file', path: mount.path } });
      const writeBackMs = await mount.waitUntilWrittenBack(S3BACKER_WRITE_BACK_TIMEOUT_MS);
      context.log(`${name}: fio ${result.runtimeMs} ms, then s3backer write-back ${Math.round(writeBackMs)} ms`);
      await mount.unmount();
      return { result, elapsedMs: result.runtimeMs + writeBackMs };
    },
  });
}

async function runReferences(context: ScenarioContext, environment: S3Environment, rows: WriteRows): Promise<void> {
  await runPart({
    what: 's3backer random writes',
    rows: [rows.randomFuse, rows.randomNbd],
    side: 'reference',
    context,
    action: async () => {
      requireTools(context, ['fio', 's3backer']);
      const runs = await s3backerRuns({ context, environment, job: randomWriteJob(context.scale), blockSizeBytes: S3BACKER_RANDOM_BLOCK_SIZE_BYTES, name: 's3backer-random' });
      const iops = measurement(runs.map(({ result, elapsedMs }) => result.write.ios / (elapsedMs / 1000)));
      rows.randomFuse.reference = iops;
      rows.randomNbd.reference = iops;
    },
  });
  await runPart({
    what: 's3backer sequential writes',
    rows: [rows.sequentialFuse, rows.sequentialNbd],
    side: 'reference',
    context,
    action: async () => {
      requireTools(context, ['fio', 's3backer']);
      const job = sequentialWriteJob({ name: 's3-seq-write-1m-qd8-fsync', regionBytes: context.scale.sequentialWriteBytes });
      const runs = await s3backerRuns({ context, environment, job, blockSizeBytes: S3BACKER_SEQUENTIAL_BLOCK_SIZE_BYTES, name: 's3backer-sequential' });
      const mibPerSecond = measurement(runs.map(({ result, elapsedMs }) => writeMibPerSecond(result, elapsedMs)));
      rows.sequentialFuse.reference = mibPerSecond;
      rows.sequentialNbd.reference = mibPerSecond;
    },
  });
}

/** lsvd on a fresh volume per run; `path` picks fio's target. fio's run time includes the fsync. */
async function lsvdRuns(options: { context: ScenarioContext; environment: S3Environment; job: FioJob; path: 'fuse' | 'nbd'; name: string }): Promise<Array<{ result: FioResult; putCount: number }>> {
  const { context, environment, job, path, name } = options;
  return repeatRuns({
    context,
    name,
    action: async ({ runIndex, directory, cleanup }) => {
      const daemon = await startVolume({ context, environment, directory, cleanup, prefix: `${name}-${runIndex + 1}/` });
      const putsBefore = requestCount(environment, 'PUT');
      const target =
        path === 'nbd'
          ? { kind: 'nbd' as const, uri: nbdUnixUri(daemon.socketPath) }
          : { kind: 'file' as const, path: (await mountNbdfuse({ socketPath: daemon.socketPath, workDirectory: directory, name: 'lsvd', cleanup })).path };
      const result = await runFio({ job, target });
      await stopEverything(cleanup);
      return { result, putCount: requestCount(environment, 'PUT') - putsBefore };
    },
  });
}

async function runLsvd(context: ScenarioContext, environment: S3Environment, rows: WriteRows): Promise<void> {
  const randomJob = randomWriteJob(context.scale);
  const sequentialJob = sequentialWriteJob({ name: 's3-seq-write-1m-qd8-fsync', regionBytes: context.scale.sequentialWriteBytes });
  const parts: Array<{ row: ResultRow; extraRows?: ResultRow[]; job: FioJob; path: 'fuse' | 'nbd'; name: string; tools: string[] }> = [
    { row: rows.randomFuse, job: randomJob, path: 'fuse', name: 'lsvd-random-fuse', tools: ['fio', 'nbdfuse'] },
    { row: rows.randomNbd, job: randomJob, path: 'nbd', name: 'lsvd-random-nbd', tools: ['fio'] },
    { row: rows.sequentialFuse, job: sequentialJob, path: 'fuse', name: 'lsvd-sequential-fuse', tools: ['fio', 'nbdfuse'] },
    { row: rows.sequentialNbd, extraRows: [rows.putsPerGib], job: sequentialJob, path: 'nbd', name: 'lsvd-sequential-nbd', tools: ['fio'] },
  ];
  for (const part of parts) {
    await runPart({
      what: part.name,
      rows: [part.row, ...(part.extraRows ?? [])],
      side: 'lsvd',
      context,
      action: async () => {
        requireLsvd(context);
        requireTools(context, part.tools);
        const runs = await lsvdRuns({ context, environment, job: part.job, path: part.path, name: part.name });
        part.row.lsvd =
          part.job.rw === 'randwrite'
            ? measurement(runs.map(({ result }) => result.write.iops))
            : measurement(runs.map(({ result }) => writeMibPerSecond(result, result.runtimeMs)));
        if (part.extraRows !== undefined) {
          // Every PUT from just before fio until the daemon exited (its final flush included).
          rows.putsPerGib.lsvd = measurement(runs.map(({ result, putCount }) => putCount / (result.write.ioBytes / GIB_BYTES)));
        }
      },
    });
  }
}

export const s3WritesScenario: Scenario = {
  id: 's3-writes',
  title: `S3 writes at ${S3_LATENCY_MS} ms: lsvd vs s3backer`,
  async run(context: ScenarioContext): Promise<ResultRow[]> {
    const rows = plannedRows(context);
    await runPart({
      what: 'S3 writes environment',
      rows: Object.values(rows),
      side: 'both',
      context,
      action: () =>
        withS3Environment({
          context,
          name: 's3-writes',
          latencyMs: S3_LATENCY_MS,
          action: async (environment) => {
            await runReferences(context, environment, rows);
            await runLsvd(context, environment, rows);
          },
        }),
    });
    return Object.values(rows);
  },
};
