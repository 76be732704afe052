/**
 * Memory: how much the daemon's resident set grows per GiB written, from /proc/<pid>/status
 * (VmRSS). The region is written in two halves, each ending with fsync; RSS is sampled after each
 * half, once the daemon has been idle for a moment. The first half brings buffers, caches and the
 * JavaScript heap to their working size; the growth over the second half is what each further
 * GiB costs: the figure reported. The worst case for the extent map is every 4 KiB block written
 * once in random order; the best is a sequential fill. Fly's lsvd needs about 2 MiB per GiB
 * (DESIGN.md §4).
 *
 * RSS moves by tens of MiB with the JavaScript heap, so a second figure per pattern is exact: the
 * extent map's own size for the whole region, as a restarted daemon logs it once it has replayed
 * the log (`mapBytes`), per GiB written. It has no goal of its own; it explains the RSS figure.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { GIB_BYTES, MIB_BYTES, nbdUnixUri, rssFillJob } from '../jobs.js';
import { runFio } from '../fio.js';
import type { ResultRow } from '../report.js';
import { measurement } from '../report.js';
import type { S3Environment } from '../s3-environment.js';
import type { Scenario, ScenarioContext } from '../scenario.js';
import { repeatRuns, requireLsvd, requireTools, runPart } from '../scenario.js';
import { readLoggedMapBytes } from '../lsvd-daemon.js';
import { S3_LATENCY_MS, startVolume, stopEverything, stopKeepingFigure, withS3Environment } from './common.js';

const RANDOM_RSS_GOAL_MIB_PER_GIB = 2;
const SEQUENTIAL_RSS_GOAL_MIB_PER_GIB = 0.1;
/** Idle time before each RSS sample, so that collections triggered by the writes have run. */
const RSS_SETTLE_MS = 2000;

interface MemoryRun {
  rssGrowthMibPerGib: number;
  mapMibPerGib?: number;
}

async function memoryRuns(options: { context: ScenarioContext; environment: S3Environment; pattern: 'random' | 'sequential' }): Promise<MemoryRun[]> {
  const { context, environment, pattern } = options;
  const name = `lsvd-rss-${pattern}`;
  return repeatRuns<MemoryRun>({
    context,
    name,
    action: async ({ runIndex, directory, cleanup }) => {
      const daemon = await startVolume({ context, environment, directory, cleanup, prefix: `${name}-${runIndex + 1}/` });
      const target = { kind: 'nbd' as const, uri: nbdUnixUri(daemon.socketPath) };
      const atStart = await daemon.readMemory();
      await runFio({ job: rssFillJob({ scale: context.scale, pattern, half: 0 }), target });
      await sleep(RSS_SETTLE_MS);
      const afterFirstHalf = await daemon.readMemory();
      const secondHalf = await runFio({ job: rssFillJob({ scale: context.scale, pattern, half: 1 }), target });
      await sleep(RSS_SETTLE_MS);
      const afterSecondHalf = await daemon.readMemory();
      await stopEverything(cleanup);
      const restarted = await startVolume({ context, environment, directory, cleanup, prefix: `${name}-${runIndex + 1}/`, name: 'lsvd-restarted' });
      await stopKeepingFigure({ cleanup, context, what: `${name} run ${runIndex + 1}, restarted daemon` });
      const mapBytes = await readLoggedMapBytes(restarted.process.logPath);
      const secondHalfGib = secondHalf.write.ioBytes / GIB_BYTES;
      const mib = (bytes: number): number => Math.round(bytes / MIB_BYTES);
      context.log(
        `${name}: RSS ${mib(atStart.rssBytes)} MiB at start, ${mib(afterFirstHalf.rssBytes)} after the first half, ` +
          `${mib(afterSecondHalf.rssBytes)} after the second (${secondHalfGib.toFixed(2)} GiB); peak ${mib(afterSecondHalf.peakRssBytes)} MiB`,
      );
      const rssGrowthMibPerGib = (afterSecondHalf.rssBytes - afterFirstHalf.rssBytes) / MIB_BYTES / secondHalfGib;
      const regionGib = context.scale.rssRegionBytes / GIB_BYTES;
      return mapBytes === undefined ? { rssGrowthMibPerGib } : { rssGrowthMibPerGib, mapMibPerGib: mapBytes / MIB_BYTES / regionGib };
    },
  });
}

export const memoryScenario: Scenario = {
  id: 'memory',
  title: 'Daemon RSS per GiB written',
  async run(context: ScenarioContext): Promise<ResultRow[]> {
    const regionGib = context.scale.rssRegionBytes / GIB_BYTES;
    const random: ResultRow = {
      scenario: 'Memory',
      metric: `RSS growth per GiB, 4 KiB random writes over ${regionGib} GiB (second half)`,
      unit: 'MiB/GiB',
      referenceLabel: "Fly's lsvd: 2 MiB/GiB",
      goal: { kind: 'at-most', value: RANDOM_RSS_GOAL_MIB_PER_GIB },
    };
    const sequential: ResultRow = {
      scenario: 'Memory',
      metric: `RSS growth per GiB, sequential fill of ${regionGib} GiB (second half)`,
      unit: 'MiB/GiB',
      referenceLabel: '',
      goal: { kind: 'at-most', value: SEQUENTIAL_RSS_GOAL_MIB_PER_GIB },
    };
    const mapRow = (pattern: string): ResultRow => ({
      scenario: 'Memory',
      metric: `extent map per GiB after a restart, ${pattern} (lsvd's mapBytes)`,
      unit: 'MiB/GiB',
      referenceLabel: '',
      goal: { kind: 'none' },
    });
    const randomMap = mapRow('4 KiB random writes');
    const sequentialMap = mapRow('sequential fill');
    await runPart({
      what: 'memory',
      rows: [random, randomMap, sequential, sequentialMap],
      side: 'lsvd',
      context,
      action: async () => {
        requireLsvd(context);
        requireTools(context, ['fio']);
        await withS3Environment({
          context,
          name: 'memory',
          latencyMs: S3_LATENCY_MS,
          action: async (environment) => {
            for (const [row, map, pattern] of [
              [random, randomMap, 'random'],
              [sequential, sequentialMap, 'sequential'],
            ] as const) {
              await runPart({
                what: `memory, ${pattern} writes`,
                rows: [row, map],
                side: 'lsvd',
                context,
                action: async () => {
                  const runs = await memoryRuns({ context, environment, pattern });
                  row.lsvd = measurement(runs.map((run) => run.rssGrowthMibPerGib));
                  const mapSamples = runs.flatMap((run) => (run.mapMibPerGib === undefined ? [] : [run.mapMibPerGib]));
                  if (mapSamples.length > 0) {
                    map.lsvd = measurement(mapSamples);
                  } else {
                    map.notRun = 'not run: the daemon logged no mapBytes';
                  }
                },
              });
            }
          },
        });
      },
    });
    return [random, randomMap, sequential, sequentialMap];
  },
};
