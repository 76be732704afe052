/**
 * `lsvd export --output <file|->`: the raw disk image as of the end of the log (or after log
 * object `--at`), rebuilt from the bucket without a daemon and without changing the bucket
 * (daemon/export.ts). A file is written sparse; `-` streams every byte to stdout, in order.
 */

import { resolve } from 'node:path';
import type { Command } from 'commander';
import { RealClock } from '../../daemon/clock.js';
import { ExportError } from '../../daemon/export-errors.js';
import { checkOutputPath, openFileSink, streamSink, type ClosableImageSink } from '../../daemon/export-sinks.js';
import { exportImage, loadVolumeMap, type ExportProgress, type ExportResult } from '../../daemon/export.js';
import { LogFormatError } from '../../logformat/errors.js';
import { describeHolder, readLease } from '../../recovery/lease.js';
import type { ObjectStore } from '../../store/object-store.js';
import { addStoreOptions, describeStoreConfig } from '../config.js';
import type { StoreFlags } from '../config.js';
import { commandLogger, commandStoreConfig, withStore } from '../context.js';
import type { CommandContext, OutputStream } from '../context.js';
import { addLoggingOptions } from '../logger.js';
import type { Logger, LoggingFlags } from '../logger.js';
import { parseSequenceOrZero } from './rollback.js';

interface ExportFlags extends StoreFlags, LoggingFlags {
  output: string;
  at?: string;
  force?: boolean;
}

/** The progress line is redrawn at most this often. */
const PROGRESS_INTERVAL_MS = 200;
const PROGRESS_BAR_WIDTH_CHARACTERS = 30;
const MIB = 1024 * 1024;

/** `[#####.....]  12.0 / 32.0 MiB  37%` on one line of a terminal, redrawn in place, throttled. */
function progressBar(stderr: OutputStream): { update(progress: ExportProgress): void; end(): void } {
  let lastDrawMs = 0;
  let last: ExportProgress | undefined;
  const draw = (progress: ExportProgress): void => {
    const fraction = progress.totalBytes === 0 ? 1 : progress.doneBytes / progress.totalBytes;
    const filled = Math.round(fraction * PROGRESS_BAR_WIDTH_CHARACTERS);
    const bar = '#'.repeat(filled) + '.'.repeat(PROGRESS_BAR_WIDTH_CHARACTERS - filled);
    const amounts = `${(progress.doneBytes / MIB).toFixed(1)} / ${(progress.totalBytes / MIB).toFixed(1)} MiB`;
    stderr.write(`\rexporting [${bar}]  ${amounts}  ${Math.floor(fraction * 100)}%`);
  };
  return {
    update(progress) {
      last = progress;
      const nowMs = Date.now();
      if (nowMs - lastDrawMs < PROGRESS_INTERVAL_MS) return;
      lastDrawMs = nowMs;
      draw(progress);
    },
    end() {
      if (last === undefined) return;
      draw(last);
      stderr.write('\n');
    },
  };
}

/** Exporting from a volume a daemon is writing gives the log as stored now: say so, do not refuse. */
async function warnIfHeld(store: ObjectStore, logger: Logger): Promise<void> {
  try {
    const lease = await readLease(store);
    if (lease === undefined) return;
    logger.warn({ lease }, `The volume is held by ${describeHolder(lease)}: exporting the log as stored now; writes that daemon has not uploaded yet are not in the image.`);
  } catch (error) {
    if (!(error instanceof LogFormatError)) throw error;
    logger.warn({ err: error.message }, 'lease.json cannot be decoded; a daemon may be writing the volume.');
  }
}

/** Refuses a bad output before recovery runs, so the operator does not wait to learn it. */
async function checkOutput(context: CommandContext, flags: ExportFlags): Promise<void> {
  if (flags.output !== '-') return checkOutputPath(resolve(context.io.cwd, flags.output), flags.force === true);
  if (process.stdout.isTTY === true) {
    throw new ExportError('ERR_EXPORT_OUTPUT_INVALID', 'refusing to write a disk image to a terminal; redirect stdout (lsvd export --output - > image.raw) or give a file');
  }
}

function openSink(context: CommandContext, options: { flags: ExportFlags; sizeBytes: number }): Promise<ClosableImageSink> {
  const { flags, sizeBytes } = options;
  if (flags.output !== '-') return openFileSink({ path: resolve(context.io.cwd, flags.output), sizeBytes, force: flags.force === true });
  // The image is bytes, not text: it goes to the process's stdout itself, never through the
  // CLI's text streams (which redact secrets line by line).
  return Promise.resolve(streamSink({ stream: process.stdout, sizeBytes, name: 'stdout' }));
}

function summaryLine(options: { result: ExportResult; output: string; throughSequence: number; volumeId: string; seconds: number }): string {
  const { result, output, throughSequence, volumeId, seconds } = options;
  return `Exported volume ${volumeId} through log object ${throughSequence} to ${output}: ${result.volumeSizeBytes} bytes, ${result.mappedBytes} of them data (${result.getCount} GETs, ${seconds.toFixed(1)} s).`;
}

async function runExport(context: CommandContext, flags: ExportFlags): Promise<void> {
  const logger = commandLogger(context, flags);
  const config = commandStoreConfig(context, flags);
  const throughSequence = flags.at === undefined ? undefined : parseSequenceOrZero(flags.at, '--at');
  await checkOutput(context, flags);
  const clock = new RealClock();
  const startMs = Date.now();
  const progress = context.io.stderrIsTty ? progressBar(context.io.stderr) : undefined;
  const { result, lastSequence, volumeId } = await withStore({
    context,
    config,
    use: async (store) => {
      await warnIfHeld(store, logger);
      const loaded = await loadVolumeMap({ store, logger, clock, ...(throughSequence === undefined ? {} : { throughSequence }) });
      const sink = await openSink(context, { flags, sizeBytes: loaded.descriptor.sizeBytes });
      try {
        const exported = await exportImage({ store, clock, map: loaded.map, sink, ...(progress === undefined ? {} : { onProgress: (update) => progress.update(update) }) });
        await sink.finish();
        return { result: exported, lastSequence: loaded.recovery.lastSequence, volumeId: loaded.descriptor.volumeId };
      } finally {
        progress?.end();
        await sink.close();
      }
    },
  });
  const output = flags.output === '-' ? 'stdout' : resolve(context.io.cwd, flags.output);
  const line = summaryLine({ result, output, throughSequence: lastSequence, volumeId, seconds: (Date.now() - startMs) / 1000 });
  // stdout is the image itself with `-`: the summary then goes to the log only.
  if (flags.output === '-') logger.info({ store: describeStoreConfig(config), ...result }, line);
  else context.io.stdout.write(`${line}\n`);
}

export function registerExport(program: Command, context: CommandContext): void {
  const command = program
    .command('export')
    .description('write the raw disk image, rebuilt from the log without a daemon, to a sparse file or stdout; the bucket is not changed')
    .requiredOption('--output <file|->', 'the image file (created sparse, the volume size), or - for stdout')
    .option('--at <sequence>', 'the image as it was after this log object (default: the end of the gap-free log); 0 is the empty volume')
    .option('--force', 'overwrite an existing non-empty output file');
  addStoreOptions(command);
  addLoggingOptions(command);
  command.action(async (_options: unknown, self: Command) => runExport(context, self.opts<ExportFlags>()));
}
