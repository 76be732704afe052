/**
 * `lsvd ls`: every log object in sequence order (size, entries, data bytes), gaps flagged, and
 * a summary of every other key. Exit 1 if any object failed to decode (after listing it all).
 */

import type { Command } from 'commander';
import { addStoreOptions, describeStoreConfig } from '../config.js';
import type { StoreFlags } from '../config.js';
import { commandLogger, commandStoreConfig, withStore } from '../context.js';
import type { CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { addLoggingOptions } from '../logger.js';
import type { LoggingFlags } from '../logger.js';
import { formatTable } from '../table.js';
import type { Column } from '../table.js';
import { gapLine, listVolume } from '../volume-listing.js';
import type { LogObjectRow, VolumeListing } from '../volume-listing.js';

/** Keys named in a text line (unknown keys, failed objects); the rest are counted (all are in --json). */
const KEYS_NAMED_IN_A_LINE_MAX = 20;

interface LsFlags extends StoreFlags, LoggingFlags {
  json?: boolean;
}

const COLUMNS: readonly Column<LogObjectRow>[] = [
  { title: 'SEQUENCE', value: (row) => row.sequence },
  { title: 'KEY', value: (row) => row.key },
  { title: 'SIZE_BYTES', value: (row) => row.sizeBytes },
  { title: 'ENTRIES', value: (row) => row.entryCount ?? '-', align: 'right' },
  { title: 'DATA_BYTES', value: (row) => row.dataBytes ?? '-', align: 'right' },
  { title: 'ZERO_RANGES', value: (row) => row.zeroRangeCount ?? '-', align: 'right' },
  { title: 'PROBLEM', value: (row) => (row.failure === undefined ? '' : `${row.failure.code} in ${row.failure.key}`), align: 'left' },
];

function objectLines(listing: VolumeListing): string[] {
  const [header = '', ...rowLines] = formatTable(COLUMNS, listing.logObjects);
  const lines = [header];
  rowLines.forEach((rowLine, index) => {
    const sequence = listing.logObjects[index]?.sequence;
    const gap = listing.gaps.find((candidate) => candidate.lastSequence + 1 === sequence);
    if (gap !== undefined) lines.push(gapLine(gap));
    lines.push(rowLine);
  });
  return lines;
}

function descriptorLine(listing: VolumeListing): string {
  const { descriptor, descriptorFailure } = listing;
  if (descriptor !== undefined) {
    return `volume: ${descriptor.volumeId}, ${descriptor.sizeBytes} bytes, sector ${descriptor.sectorSizeBytes} bytes, created ${descriptor.createdAt}`;
  }
  if (descriptorFailure !== undefined) return `volume.json: ${descriptorFailure.code}: ${descriptorFailure.message}`;
  return 'volume.json: absent (entries checked against the largest volume size)';
}

function logSummaryLine(listing: VolumeListing): string {
  const count = listing.logObjects.length;
  if (count === 0) return 'log objects: none';
  const missing = listing.gaps.reduce((sum, gap) => sum + gap.lastSequence - gap.firstSequence + 1, 0);
  const firstBroken = listing.logObjects.find((row) => row.failure !== undefined && row.sequence <= listing.replayableThroughSequence);
  const parts = [`log objects: ${count}`, missing === 0 ? 'no gaps' : `${missing} missing in ${listing.gaps.length} gap(s)`];
  if (firstBroken !== undefined) {
    parts.push(`recovery stops at ${firstBroken.key}, which cannot be decoded`);
  } else if (missing > 0) {
    const afterGap = listing.logObjects.filter((row) => row.sequence > listing.replayableThroughSequence).length;
    const replayable = listing.replayableThroughSequence === 0 ? 'nothing' : `1..${listing.replayableThroughSequence}`;
    parts.push(`recovery replays ${replayable} and archives the ${afterGap} after the first gap`);
  }
  return parts.join(', ');
}

function summaryLines(listing: VolumeListing): string[] {
  const orphans = listing.zeroRangeKeysWithoutLogObject;
  const unknown = listing.unknownKeys;
  const shownUnknown = unknown.slice(0, KEYS_NAMED_IN_A_LINE_MAX).map((key) => JSON.stringify(key));
  if (unknown.length > KEYS_NAMED_IN_A_LINE_MAX) shownUnknown.push(`and ${unknown.length - KEYS_NAMED_IN_A_LINE_MAX} more`);
  return [
    logSummaryLine(listing),
    `zero-range companions: ${listing.zeroRangeKeys.length}` + (orphans.length > 0 ? `, ${orphans.length} without a log object (${orphans.join(', ')})` : ''),
    `archived objects: ${listing.archivedCount}`,
    `lease.json: ${listing.leasePresent ? 'present' : 'absent'}`,
    `checkpoints: ${listing.checkpointKeys.length}`,
    ...(listing.probeCount > 0 ? [`probe objects: ${listing.probeCount}`] : []),
    `unknown keys: ${unknown.length}` + (unknown.length > 0 ? ` (${shownUnknown.join(', ')})` : ''),
  ];
}

function failedKeys(listing: VolumeListing): string[] {
  const keys = listing.logObjects.flatMap((row) => (row.failure === undefined ? [] : [`${row.failure.key} (${row.failure.code})`]));
  if (listing.descriptorFailure !== undefined) keys.unshift(`volume.json (${listing.descriptorFailure.code})`);
  return keys;
}

async function runLs(context: CommandContext, flags: LsFlags): Promise<void> {
  const logger = commandLogger(context, flags);
  const config = commandStoreConfig(context, flags);
  const listing = await withStore({ context, config, use: listVolume });
  for (const key of listing.unknownKeys) logger.warn({ key }, `Unknown key ${JSON.stringify(key)} under the volume prefix: ignored, never deleted.`);
  const { stdout } = context.io;
  if (flags.json === true) {
    stdout.write(`${JSON.stringify({ store: describeStoreConfig(config), ...listing }, null, 2)}\n`);
  } else {
    const lines = [`store: ${describeStoreConfig(config)}`, descriptorLine(listing), '', ...objectLines(listing), '', ...summaryLines(listing)];
    stdout.write(`${lines.join('\n')}\n`);
  }
  const failed = failedKeys(listing);
  if (failed.length > 0) {
    const named = failed.slice(0, KEYS_NAMED_IN_A_LINE_MAX).join(', ') + (failed.length > KEYS_NAMED_IN_A_LINE_MAX ? ', ...' : '');
    throw new CliError('ERR_CLI_CORRUPT_OBJECTS', `${failed.length} object(s) could not be decoded: ${named}`);
  }
}

export function registerLs(program: Command, context: CommandContext): void {
  const command = program
    .command('ls')
    .description('list the log objects of a volume in sequence order, flag gaps, and summarise every other key')
    .option('--json', 'machine-readable output');
  addStoreOptions(command);
  addLoggingOptions(command);
  command.action(async (_options: unknown, self: Command) => runLs(context, self.opts<LsFlags>()));
}
