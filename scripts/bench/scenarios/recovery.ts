/**
 * Recovery: how long `lsvd run` takes from start until its socket accepts a connection, on a
 * volume of N log objects, with S3 at 20 ms. That time includes listing the prefix, fetching
 * every header (12 KiB ranged GETs) and replaying them; lsvd has no recovery-only command, so the
 * daemon's start-up is what is timed, Node's own start-up included.
 */

import type { ResultRow } from '../report.js';
import { measurement } from '../report.js';
import { copyPrefixOnDisk, writeLogObjectFixture } from '../recovery-fixture.js';
import type { S3Environment } from '../s3-environment.js';
import { createS3Client } from '../s3-environment.js';
import type { Scenario, ScenarioContext } from '../scenario.js';
import { repeatRuns, requireLsvd, runPart } from '../scenario.js';
import { RECOVERY_LATENCY_MS, startVolume, stopKeepingFigure, withS3Environment } from './common.js';

/** Goal (the benchmark brief): 10,000 objects recovered within 3 s. */
const RECOVERY_GOALS_SECONDS: ReadonlyMap<number, number> = new Map([[10_000, 3]]);

async function recoverySeconds(options: { context: ScenarioContext; environment: S3Environment; objectCount: number }): Promise<number[]> {
  const { context, environment, objectCount } = options;
  const fixturePrefix = `recovery-${objectCount}-fixture/`;
  const client = createS3Client(environment.s3rverEndpoint);
  const startedMs = performance.now();
  try {
    await writeLogObjectFixture({ client, bucket: environment.bucket, prefix: fixturePrefix, objectCount, volumeSizeBytes: context.scale.volumeSizeBytes, seed: context.seed });
  } finally {
    client.destroy();
  }
  context.log(`recovery: wrote ${objectCount} log objects in ${Math.round(performance.now() - startedMs)} ms`);
  return repeatRuns({
    context,
    name: `lsvd-recovery-${objectCount}`,
    action: async ({ runIndex, directory, cleanup }) => {
      const prefix = `recovery-${objectCount}-run-${runIndex + 1}/`;
      const copied = await copyPrefixOnDisk({ s3rverDirectory: environment.directory, bucket: environment.bucket, fromPrefix: fixturePrefix, toPrefix: prefix });
      context.log(`recovery: ${copied} objects under ${prefix}`);
      const daemon = await startVolume({ context, environment, directory, cleanup, prefix });
      await stopKeepingFigure({ cleanup, context, what: `recovery of ${objectCount} objects, run ${runIndex + 1}` });
      return daemon.startupMs / 1000;
    },
  });
}

export const recoveryScenario: Scenario = {
  id: 'recovery',
  title: `Recovery at ${RECOVERY_LATENCY_MS} ms`,
  async run(context: ScenarioContext): Promise<ResultRow[]> {
    const rows = context.scale.recoveryObjectCounts.map((objectCount): ResultRow => {
      const goalSeconds = RECOVERY_GOALS_SECONDS.get(objectCount);
      return {
        scenario: `Recovery at ${RECOVERY_LATENCY_MS} ms`,
        metric: `start until ready, ${objectCount.toLocaleString('en-US')} log objects`,
        unit: 's',
        referenceLabel: '',
        goal: goalSeconds === undefined ? { kind: 'none' } : { kind: 'at-most', value: goalSeconds },
      };
    });
    await runPart({
      what: 'recovery',
      rows,
      side: 'lsvd',
      context,
      action: async () => {
        requireLsvd(context);
        await withS3Environment({
          context,
          name: 'recovery',
          latencyMs: RECOVERY_LATENCY_MS,
          action: async (environment) => {
            for (const [index, objectCount] of context.scale.recoveryObjectCounts.entries()) {
              const row = rows[index];
              if (row !== undefined) {
                await runPart({
                  what: `recovery of ${objectCount} objects`,
                  rows: [row],
                  side: 'lsvd',
                  context,
                  action: async () => {
                    row.lsvd = measurement(await recoverySeconds({ context, environment, objectCount }));
                  },
                });
              }
            }
          },
        });
      },
    });
    return rows;
  },
};
