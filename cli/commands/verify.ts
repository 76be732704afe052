/**
 * `lsvd verify`: checks every key of a volume without changing the bucket (recovery/verify.ts):
 * every log object (including after a gap) and companion decodes and matches its listed
 * size, the descriptor and lease decode, no gaps, no orphaned companions. Prints a report
 * (or `--json`) with the bytes stored and the bytes live in the final map; exit 1 naming
 * what is wrong, 0 for a sound volume.
 */

import type { Command } from 'commander';
import { RealClock } from '../../daemon/clock.js';
import { loadVolumeMap, mappedBytes } from '../../daemon/export.js';
import { classifyKey, formatLogKey, VOLUME_DESCRIPTOR_KEY } from '../../logformat/keys.js';
import { SEQUENCE_FIRST } from '../../logformat/limits.js';
import { describeHolder } from '../../recovery/lease.js';
import { verifyFailure, verifyVolume, type VerifyReport } from '../../recovery/verify.js';
import type { ObjectStore } from '../../store/object-store.js';
import { addStoreOptions, describeStoreConfig } from '../config.js';
import type { StoreFlags } from '../config.js';
import { commandLogger, commandStoreConfig, withStore } from '../context.js';
import type { CommandContext } from '../context.js';
import { addLoggingOptions } from '../logger.js';
import type { Logger, LoggingFlags } from '../logger.js';
import { formatTable } from '../table.js';

interface VerifyFlags extends StoreFlags, LoggingFlags {
  json?: boolean;
}

/** Unknown keys named in the text report; all are in --json. */
const KEYS_NAMED_IN_A_LINE_MAX = 20;

/** Whether recovery can replay the prefix: the descriptor is sound and nothing in the prefix is corrupt. */
function prefixReplayable(report: VerifyReport): boolean {
  if (report.descriptor === undefined) return false;
  return report.problems.every((problem) => {
    if (problem.code === 'ERR_VERIFY_GAP' || problem.code === 'ERR_VERIFY_ORPHAN_COMPANION') return true;
    const kind = classifyKey(problem.key);
    if (kind.kind === 'log' || kind.kind === 'zero-ranges') return kind.sequence > report.prefixEndSequence;
    return problem.key !== VOLUME_DESCRIPTOR_KEY;
  });
}

/** Bytes mapped in the map recovery would build; undefined when recovery would stop on a problem. */
async function liveBytesOf(options: { store: ObjectStore; report: VerifyReport; logger: Logger }): Promise<number | undefined> {
  if (!prefixReplayable(options.report)) return undefined;
  // The report already names gaps and unknown keys; recovery's own warnings would repeat them.
  const logger = options.logger.child({}, { level: 'error' });
  const { map } = await loadVolumeMap({ store: options.store, logger, clock: new RealClock() });
  return mappedBytes(map);
}

function logLine(report: VerifyReport): string {
  const { logObjectCount, gaps, prefixEndSequence, unreplayableCount } = report;
  if (logObjectCount === 0) return 'log objects: none';
  const replayed = prefixEndSequence < SEQUENCE_FIRST ? 'nothing' : `${SEQUENCE_FIRST}..${prefixEndSequence}`;
  const gapText = gaps.length === 0 ? 'no gaps' : `${gaps.length} gap(s), first at ${formatLogKey(gaps[0]?.firstSequence ?? SEQUENCE_FIRST)}`;
  const after = unreplayableCount === 0 ? '' : `; ${unreplayableCount} after the first gap would be archived at start-up`;
  return `log objects: ${logObjectCount} (highest ${report.highestSequence}), ${gapText}; recovery replays ${replayed}${after}`;
}

function reportLines(options: { report: VerifyReport; liveBytes: number | undefined; store: string }): string[] {
  const { report, liveBytes } = options;
  const { descriptor, lease, unknownKeys } = report;
  const named = unknownKeys.slice(0, KEYS_NAMED_IN_A_LINE_MAX).map((key) => JSON.stringify(key));
  if (unknownKeys.length > KEYS_NAMED_IN_A_LINE_MAX) named.push(`and ${unknownKeys.length - KEYS_NAMED_IN_A_LINE_MAX} more`);
  const lines = [
    `store: ${options.store}`,
    descriptor === undefined ? 'volume.json: unusable (see problems)' : `volume: ${descriptor.volumeId}, ${descriptor.sizeBytes} bytes, sector ${descriptor.sectorSizeBytes} bytes, created ${descriptor.createdAt}`,
    logLine(report),
    `zero-range companions: ${report.zeroRangeKeyCount}, ${report.orphanCompanionKeys.length} without a log object`,
    `bytes stored: ${report.storedBytes} (log objects and companions), ${report.logDataBytes} of them data`,
    `bytes live: ${liveBytes === undefined ? 'unknown (recovery would stop on a problem below)' : `${liveBytes} (mapped after replaying the log)`}`,
    `archived objects: ${report.archivedCount}`,
    `lease.json: ${lease === undefined ? 'absent' : `held by ${describeHolder(lease)}`}`,
    `checkpoints: ${report.checkpointCount}`,
    ...(report.probeCount > 0 ? [`probe objects: ${report.probeCount}`] : []),
    `unknown keys: ${unknownKeys.length}` + (unknownKeys.length > 0 ? ` (${named.join(', ')}; ignored, never deleted)` : ''),
    '',
  ];
  if (report.problems.length === 0) return [...lines, 'problems: none, the volume is sound'];
  const table = formatTable(
    [
      { title: 'KEY', value: (problem) => problem.key },
      { title: 'CODE', value: (problem) => problem.code },
      { title: 'PROBLEM', value: (problem) => problem.message, align: 'left' },
    ],
    report.problems,
  );
  return [...lines, `problems: ${report.problems.length}`, ...table];
}

async function runVerify(context: CommandContext, flags: VerifyFlags): Promise<void> {
  const logger = commandLogger(context, flags);
  const config = commandStoreConfig(context, flags);
  const { report, liveBytes, description } = await withStore({
    context,
    config,
    use: async (store) => {
      const verified = await verifyVolume({ store, clock: new RealClock() });
      return { report: verified, liveBytes: await liveBytesOf({ store, report: verified, logger }), description: store.description };
    },
  });
  const store = describeStoreConfig(config);
  for (const key of report.unknownKeys) logger.warn({ key }, `Unknown key ${JSON.stringify(key)} under the volume prefix: ignored, never deleted.`);
  if (flags.json === true) {
    context.io.stdout.write(`${JSON.stringify({ store, ...report, liveBytes: liveBytes ?? null }, null, 2)}\n`);
  } else {
    context.io.stdout.write(`${reportLines({ report, liveBytes, store }).join('\n')}\n`);
  }
  const failure = verifyFailure(report, description);
  if (failure !== undefined) throw failure;
}

export function registerVerify(program: Command, context: CommandContext): void {
  const command = program
    .command('verify')
    .description('check every object of a volume (log objects, companions, descriptor, lease), gaps and orphans, without changing anything')
    .option('--json', 'machine-readable output');
  addStoreOptions(command);
  addLoggingOptions(command);
  command.action(async (_options: unknown, self: Command) => runVerify(context, self.opts<VerifyFlags>()));
}
