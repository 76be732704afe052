/**
 * The NBD path with no storage behind it: lsvd's NBD server over an in-memory device against
 * nbdkit's `memory` plugin, the same fio jobs (nbd engine) for both. The figures come from
 * scripts/bench-nbd.ts, which alternates the two servers job by job; this scenario repeats it
 * `runs` times and keeps the medians.
 *
 * A context row measures the FUSE path's own ceiling (nbdkit memory through nbdfuse), the path
 * lsvd and s3backer share in the S3 scenarios.
 */

import type { NbdBenchmarkRow } from '../../bench-nbd.js';
import { NBD_BENCHMARK_JOBS, runNbdPathBenchmark } from '../../bench-nbd.js';
import { runFio } from '../fio.js';
import { mountNbdfuse } from '../fuse.js';
import { randomWriteJob } from '../jobs.js';
import { startNbdkitMemory } from '../nbdkit.js';
import type { ResultRow } from '../report.js';
import { measurement } from '../report.js';
import type { Scenario, ScenarioContext } from '../scenario.js';
import { repeatRuns, requireTools, runPart } from '../scenario.js';

const SCENARIO = 'NBD path, memory device';
/** DESIGN.md §8 goal: lsvd's NBD server reaches at least half of nbdkit's figure on each job. */
const NBD_PATH_RATIO_GOAL = 0.5;

async function nbdPathRows(context: ScenarioContext): Promise<ResultRow[]> {
  const rows: ResultRow[] = NBD_BENCHMARK_JOBS.map((job) => ({
    scenario: SCENARIO,
    metric: job.name,
    unit: job.metric,
    referenceLabel: 'nbdkit memory',
    goal: { kind: 'ratio-at-least', ratio: NBD_PATH_RATIO_GOAL },
  }));
  await runPart({
    what: 'NBD path (scripts/bench-nbd.ts)',
    rows,
    side: 'both',
    context,
    action: async () => {
      requireTools(context, ['fio', 'nbdkit']);
      const runResults: NbdBenchmarkRow[][] = [];
      for (let runIndex = 0; runIndex < context.runs; runIndex += 1) {
        context.log(`NBD path: run ${runIndex + 1} of ${context.runs}`);
        runResults.push(await runNbdPathBenchmark({ durationSeconds: context.scale.nbdPathRuntimeSeconds }));
      }
      for (const row of rows) {
        const perRun = runResults.map((results) => results.find((result) => result.job === row.metric));
        const lsvd = perRun.flatMap((result) => (result === undefined ? [] : [result.lsvd]));
        const nbdkit = perRun.flatMap((result) => (result === undefined ? [] : [result.nbdkit]));
        if (lsvd.length > 0) {
          row.lsvd = measurement(lsvd);
          row.reference = measurement(nbdkit);
        }
      }
    },
  });
  return rows;
}

async function fuseCeilingRow(context: ScenarioContext): Promise<ResultRow> {
  const job = randomWriteJob(context.scale);
  const row: ResultRow = {
    scenario: 'FUSE path ceiling',
    metric: `${job.name} via nbdfuse`,
    unit: 'IOPS',
    referenceLabel: 'nbdkit memory',
    goal: { kind: 'none' },
    note: 'context for the S3 rows: what any NBD server can reach through nbdfuse on this machine',
  };
  await runPart({
    what: 'FUSE path ceiling',
    rows: [row],
    side: 'reference',
    context,
    action: async () => {
      requireTools(context, ['fio', 'nbdkit', 'nbdfuse']);
      const samples = await repeatRuns({
        context,
        name: 'fuse-ceiling',
        action: async ({ directory, cleanup }) => {
          const server = await startNbdkitMemory({ workDirectory: directory, sizeBytes: context.scale.volumeSizeBytes, cleanup });
          const file = await mountNbdfuse({ socketPath: server.socketPath, workDirectory: directory, name: 'nbdkit', cleanup });
          return (await runFio({ job, target: { kind: 'file', path: file.path } })).write.iops;
        },
      });
      row.reference = measurement(samples);
    },
  });
  return row;
}

export const nbdPathScenario: Scenario = {
  id: 'nbd-path',
  title: 'NBD path: lsvd memory device vs nbdkit memory',
  async run(context: ScenarioContext): Promise<ResultRow[]> {
    return [...(await nbdPathRows(context)), await fuseCeilingRow(context)];
  },
};
