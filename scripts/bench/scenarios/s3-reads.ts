/**
 * Cold reads from S3 at 50 ms: data written by one daemon, read by a freshly started one (nothing
 * cached), with 4 KiB random reads at QD64 and 1 MiB sequential reads. Also counts the GETs per
 * cold 4 KiB read.
 *
 * The random-read bound: with QD reads in flight and each needing one round trip, no system can
 * beat QD / latency reads per second.
 */

import type { FioJob, FioResult } from '../jobs.js';
import { coldRandomReadJob, coldSequentialReadJob, MIB_BYTES, nbdUnixUri, sequentialWriteJob } from '../jobs.js';
import { runFio } from '../fio.js';
import type { ResultRow } from '../report.js';
import { measurement } from '../report.js';
import type { S3Environment } from '../s3-environment.js';
import type { Scenario, ScenarioContext } from '../scenario.js';
import { repeatRuns, requireLsvd, requireTools, runPart } from '../scenario.js';
import type { CleanupStack } from '../cleanup.js';
import { readMibPerSecond, requestCount, S3_LATENCY_MS, startVolume, stopEverything, withS3Environment } from './common.js';

const SCENARIO = `S3 at ${S3_LATENCY_MS} ms`;
/** Goals (the benchmark brief). */
const RANDOM_READ_BOUND_RATIO_GOAL = 0.9;
const SEQUENTIAL_READ_MIB_PER_SECOND_GOAL = 200;
/** "About one GET per cold 4 KiB read": a tenth more allows for the odd split or retry. */
const GETS_PER_READ_GOAL = 1.1;

interface ColdReadRun {
  random: FioResult;
  getsPerRandomRead: number;
  sequential: FioResult;
}

/** Starts a daemon on an existing volume, runs one read job, stops it: a cold read. */
async function coldRead(options: {
  context: ScenarioContext;
  environment: S3Environment;
  directory: string;
  cleanup: CleanupStack;
  prefix: string;
  job: FioJob;
  name: string;
}): Promise<{ result: FioResult; getCount: number }> {
  const daemon = await startVolume({ ...options, name: options.name });
  const getsBefore = requestCount(options.environment, 'GET');
  const result = await runFio({ job: options.job, target: { kind: 'nbd', uri: nbdUnixUri(daemon.socketPath) } });
  const getCount = requestCount(options.environment, 'GET') - getsBefore;
  await stopEverything(options.cleanup);
  return { result, getCount };
}

async function coldReadRuns(context: ScenarioContext, environment: S3Environment): Promise<ColdReadRun[]> {
  return repeatRuns({
    context,
    name: 'lsvd-cold-reads',
    action: async ({ runIndex, directory, cleanup }) => {
      const prefix = `lsvd-cold-reads-${runIndex + 1}/`;
      const writer = await startVolume({ context, environment, directory, cleanup, prefix, name: 'lsvd-writer' });
      const fill = sequentialWriteJob({ name: 'fill-1m-qd8-fsync', regionBytes: context.scale.coldReadRegionBytes });
      await runFio({ job: fill, target: { kind: 'nbd', uri: nbdUnixUri(writer.socketPath) } });
      await stopEverything(cleanup);
      const random = await coldRead({ context, environment, directory, cleanup, prefix, job: coldRandomReadJob(context.scale), name: 'lsvd-random-reader' });
      const sequential = await coldRead({ context, environment, directory, cleanup, prefix, job: coldSequentialReadJob(context.scale), name: 'lsvd-sequential-reader' });
      return { random: random.result, getsPerRandomRead: random.getCount / random.result.read.ios, sequential: sequential.result };
    },
  });
}

export const s3ReadsScenario: Scenario = {
  id: 's3-reads',
  title: `S3 cold reads at ${S3_LATENCY_MS} ms`,
  async run(context: ScenarioContext): Promise<ResultRow[]> {
    const randomJob = coldRandomReadJob(context.scale);
    const boundIops = randomJob.ioDepth / (S3_LATENCY_MS / 1000);
    const region = `${context.scale.coldReadRegionBytes / MIB_BYTES} MiB written before a restart`;
    const random: ResultRow = {
      scenario: SCENARIO,
      metric: `cold 4 KiB random read QD${randomJob.ioDepth} (${region})`,
      unit: 'IOPS',
      reference: measurement([boundIops]),
      referenceLabel: `bound: QD ${randomJob.ioDepth} / ${S3_LATENCY_MS} ms`,
      goal: { kind: 'ratio-at-least', ratio: RANDOM_READ_BOUND_RATIO_GOAL },
    };
    const sequential: ResultRow = {
      scenario: SCENARIO,
      metric: `cold 1 MiB sequential read QD8 (${region})`,
      unit: 'MiB/s',
      referenceLabel: "Fly's lsvd: 10–100 MiB/s",
      goal: { kind: 'at-least', value: SEQUENTIAL_READ_MIB_PER_SECOND_GOAL },
    };
    const getsPerRead: ResultRow = {
      scenario: 'S3 requests',
      metric: 'GETs per cold 4 KiB random read',
      unit: 'GET/read',
      referenceLabel: '',
      goal: { kind: 'at-most', value: GETS_PER_READ_GOAL },
    };
    const rows = [random, sequential, getsPerRead];
    await runPart({
      what: 'lsvd cold reads',
      rows,
      side: 'lsvd',
      context,
      action: async () => {
        requireLsvd(context);
        requireTools(context, ['fio']);
        const runs = await withS3Environment({ context, name: 's3-reads', latencyMs: S3_LATENCY_MS, action: (environment) => coldReadRuns(context, environment) });
        random.lsvd = measurement(runs.map((run) => run.random.read.iops));
        sequential.lsvd = measurement(runs.map((run) => readMibPerSecond(run.sequential)));
        getsPerRead.lsvd = measurement(runs.map((run) => run.getsPerRandomRead));
      },
    });
    return rows;
  },
};
