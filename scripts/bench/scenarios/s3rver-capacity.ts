/**
 * Context, not a goal: how many 4 KiB PUTs and ranged GETs per second s3rver itself serves on this
 * machine (no proxy, 64 in flight). Every S3 figure above is capped by this, whatever the latency.
 */

import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { KIB_BYTES } from '../jobs.js';
import type { ResultRow } from '../report.js';
import { measurement } from '../report.js';
import { createS3Client } from '../s3-environment.js';
import type { Scenario, ScenarioContext } from '../scenario.js';
import { repeatRuns, runPart } from '../scenario.js';
import { withS3Environment } from './common.js';

const REQUESTS_IN_FLIGHT = 64;
const OBJECT_SIZE_BYTES = 4 * KIB_BYTES;

async function requestsPerSecond(options: { durationMs: number; request: (workerIndex: number, requestIndex: number) => Promise<void> }): Promise<number> {
  let completed = 0;
  const deadlineMs = performance.now() + options.durationMs;
  const startedMs = performance.now();
  await Promise.all(
    Array.from({ length: REQUESTS_IN_FLIGHT }, async (_, workerIndex) => {
      while (performance.now() < deadlineMs) {
        await options.request(workerIndex, completed);
        completed += 1;
      }
    }),
  );
  return completed / ((performance.now() - startedMs) / 1000);
}

async function measureOnce(client: S3Client, bucket: string, durationMs: number): Promise<{ puts: number; gets: number }> {
  const body = new Uint8Array(OBJECT_SIZE_BYTES).fill(1);
  const puts = await requestsPerSecond({
    durationMs,
    request: async (workerIndex, requestIndex) => {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: `capacity/${workerIndex}-${requestIndex % 16}`, Body: body }));
    },
  });
  const gets = await requestsPerSecond({
    durationMs,
    request: async (workerIndex) => {
      const answer = await client.send(new GetObjectCommand({ Bucket: bucket, Key: `capacity/${workerIndex}-0`, Range: `bytes=0-${OBJECT_SIZE_BYTES - 1}` }));
      await answer.Body?.transformToByteArray();
    },
  });
  return { puts, gets };
}

export const s3rverCapacityScenario: Scenario = {
  id: 's3rver-capacity',
  title: "s3rver's own request rate (context)",
  async run(context: ScenarioContext): Promise<ResultRow[]> {
    const common = { scenario: 's3rver capacity', unit: 'req/s', referenceLabel: 's3rver, no proxy', goal: { kind: 'none' } as const };
    const puts: ResultRow = { ...common, metric: `4 KiB PUT, ${REQUESTS_IN_FLIGHT} in flight` };
    const gets: ResultRow = { ...common, metric: `4 KiB ranged GET, ${REQUESTS_IN_FLIGHT} in flight` };
    const durationMs = context.scale.capacityProbeMs;
    await runPart({
      what: 's3rver capacity',
      rows: [puts, gets],
      side: 'reference',
      context,
      action: () =>
        withS3Environment({
          context,
          name: 's3rver-capacity',
          latencyMs: 0,
          action: async (environment) => {
            const client = createS3Client(environment.s3rverEndpoint);
            try {
              const runs = await repeatRuns({ context, name: 's3rver-capacity', action: () => measureOnce(client, environment.bucket, durationMs) });
              puts.reference = measurement(runs.map((run) => run.puts));
              gets.reference = measurement(runs.map((run) => run.gets));
            } finally {
              client.destroy();
            }
          },
        }),
    });
    return [puts, gets];
  },
};
