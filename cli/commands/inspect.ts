/**
 * `lsvd inspect <sequence>` (from the configured store) and `lsvd inspect <file>` (a local copy
 * of an object): the decoded entries with their data offsets, and for a store the zero ranges
 * of the object's companion. A malformed object is one line naming the key and the code, exit 1.
 */

import { open } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { formatLogKey, formatZeroRangesKey, VOLUME_DESCRIPTOR_KEY } from '../../logformat/keys.js';
import { HEADER_SIZE_BYTES, VOLUME_DESCRIPTOR_SIZE_MAX_BYTES, VOLUME_SIZE_MAX_BYTES, ZERO_RANGES_MAGIC, ZERO_RANGES_OBJECT_SIZE_MAX_BYTES } from '../../logformat/limits.js';
import { logDataLengthBytes } from '../../logformat/log-object.js';
import { decodeVolumeDescriptor } from '../../logformat/volume-descriptor.js';
import { decodeZeroRanges } from '../../logformat/zero-ranges.js';
import { isStoreError } from '../../store/errors.js';
import type { ObjectStore } from '../../store/object-store.js';
import { addStoreOptions, describeStoreConfig } from '../config.js';
import type { StoreFlags } from '../config.js';
import { commandLogger, commandStoreConfig, withStore } from '../context.js';
import type { CommandContext } from '../context.js';
import { CliError, usageError } from '../errors.js';
import { addLoggingOptions } from '../logger.js';
import type { LoggingFlags } from '../logger.js';
import { formatLogObjectReport, formatZeroRanges, inspectHeader } from '../log-object-report.js';
import type { LogObjectReport } from '../log-object-report.js';
import { looksLikeSequence, parseSequence, parseSizeBytes } from '../parse.js';

interface InspectFlags extends StoreFlags, LoggingFlags {
  json?: boolean;
  volumeSize?: string;
}

function volumeSizeFlag(flags: InspectFlags): number | undefined {
  if (flags.volumeSize === undefined) return undefined;
  const sizeBytes = parseSizeBytes(flags.volumeSize, '--volume-size');
  if (sizeBytes > VOLUME_SIZE_MAX_BYTES) throw usageError(`--volume-size must be at most ${VOLUME_SIZE_MAX_BYTES} bytes`);
  return sizeBytes;
}

/** The size entries are checked against: the flag, else volume.json, else the largest volume. */
async function storeVolumeSizeBytes(store: ObjectStore, flagSizeBytes: number | undefined): Promise<number> {
  if (flagSizeBytes !== undefined) return flagSizeBytes;
  try {
    return decodeVolumeDescriptor(await store.get(VOLUME_DESCRIPTOR_KEY), { objectKey: VOLUME_DESCRIPTOR_KEY }).sizeBytes;
  } catch (error) {
    if (isStoreError(error, 'ERR_STORE_NOT_FOUND')) return VOLUME_SIZE_MAX_BYTES;
    throw error;
  }
}

async function inspectInStore(options: { store: ObjectStore; sequence: number; volumeSizeBytes: number | undefined }): Promise<LogObjectReport> {
  const { store, sequence } = options;
  const key = formatLogKey(sequence);
  const volumeSizeBytes = await storeVolumeSizeBytes(store, options.volumeSizeBytes);
  const info = await store.head(key).catch((error: unknown) => {
    if (!isStoreError(error, 'ERR_STORE_NOT_FOUND')) throw error;
    throw new CliError('ERR_CLI_OBJECT_MISSING', `log object ${key} (sequence ${sequence}) does not exist in ${store.description}`);
  });
  const header = await store.get(key, { range: { offsetBytes: 0, lengthBytes: HEADER_SIZE_BYTES } });
  const entries = inspectHeader({ header, objectSizeBytes: info.sizeBytes, context: { objectKey: key, volumeSizeBytes } });
  const report: LogObjectReport = { source: store.description, key, sequence, sizeBytes: info.sizeBytes, volumeSizeBytes, entries, dataBytes: logDataLengthBytes(entries) };
  const zerosKey = formatZeroRangesKey(sequence);
  const zerosBytes = await store.get(zerosKey).catch((error: unknown) => {
    if (isStoreError(error, 'ERR_STORE_NOT_FOUND')) return undefined;
    throw error;
  });
  if (zerosBytes === undefined) return report;
  return { ...report, zeroRanges: { key: zerosKey, ranges: decodeZeroRanges(zerosBytes, { objectKey: zerosKey, volumeSizeBytes }) } };
}

/** Reads at most `lengthBytes` from the start of a local file, and its size. */
async function readFilePrefix(path: string, lengthBytes: number): Promise<{ bytes: Uint8Array; sizeBytes: number }> {
  let handle;
  try {
    handle = await open(path, 'r');
    const { size } = await handle.stat();
    const bytes = new Uint8Array(Math.min(size, lengthBytes));
    const { bytesRead } = await handle.read(bytes, 0, bytes.byteLength, 0);
    return { bytes: bytes.subarray(0, bytesRead), sizeBytes: size };
  } catch (error) {
    const reason = error instanceof Error && 'code' in error ? String(error.code) : 'unreadable';
    throw new CliError('ERR_CLI_FILE_UNREADABLE', `cannot read ${path}: ${reason}`, { cause: error });
  } finally {
    await handle?.close();
  }
}

function startsWithZeroRangesMagic(bytes: Uint8Array): boolean {
  return new TextDecoder().decode(bytes.subarray(0, ZERO_RANGES_MAGIC.length)) === ZERO_RANGES_MAGIC;
}

/** A local file: a log object, or by its magic / `.json` name a zero-ranges companion or a descriptor. */
async function inspectFile(context: CommandContext, options: { target: string; volumeSizeBytes: number | undefined; json: boolean }): Promise<string> {
  const path = resolve(context.io.cwd, options.target);
  const source = pathToFileURL(path).href;
  const volumeSizeBytes = options.volumeSizeBytes ?? VOLUME_SIZE_MAX_BYTES;
  if (path.endsWith('.json')) {
    const { bytes } = await readFilePrefix(path, VOLUME_DESCRIPTOR_SIZE_MAX_BYTES + 1);
    const descriptor = decodeVolumeDescriptor(bytes, { objectKey: path });
    return options.json ? JSON.stringify({ kind: 'descriptor', source, descriptor }, null, 2) : `volume descriptor ${source}\n${JSON.stringify(descriptor, null, 2)}`;
  }
  const { bytes, sizeBytes } = await readFilePrefix(path, Math.max(HEADER_SIZE_BYTES, ZERO_RANGES_OBJECT_SIZE_MAX_BYTES + 1));
  if (startsWithZeroRangesMagic(bytes)) {
    const ranges = decodeZeroRanges(bytes, { objectKey: path, volumeSizeBytes });
    return options.json ? JSON.stringify({ kind: 'zero-ranges', source, ranges }, null, 2) : formatZeroRanges({ key: basename(path), ranges }).join('\n');
  }
  const entries = inspectHeader({ header: bytes, objectSizeBytes: sizeBytes, context: { objectKey: path, volumeSizeBytes } });
  const report: LogObjectReport = { source, key: basename(path), sizeBytes, volumeSizeBytes, entries, dataBytes: logDataLengthBytes(entries) };
  return options.json ? JSON.stringify({ kind: 'log', ...report }, null, 2) : formatLogObjectReport(report).join('\n');
}

async function runInspect(context: CommandContext, target: string, flags: InspectFlags): Promise<void> {
  const logger = commandLogger(context, flags);
  logger.debug({ target }, 'Inspecting an object.');
  const volumeSizeBytes = volumeSizeFlag(flags);
  const json = flags.json === true;
  let output: string;
  if (looksLikeSequence(target)) {
    const sequence = parseSequence(target, 'the sequence');
    const config = commandStoreConfig(context, flags);
    const report = await withStore({ context, config, use: (store) => inspectInStore({ store, sequence, volumeSizeBytes }) });
    const withSource = { ...report, source: describeStoreConfig(config) };
    output = json ? JSON.stringify({ kind: 'log', ...withSource }, null, 2) : formatLogObjectReport(withSource).join('\n');
  } else {
    if (flags.store !== undefined) throw usageError(`--store is for a sequence number; ${JSON.stringify(target)} is read as a local file (write ./${target} if a file name is all digits)`);
    output = await inspectFile(context, { target, volumeSizeBytes, json });
  }
  context.io.stdout.write(`${output}\n`);
}

export function registerInspect(program: Command, context: CommandContext): void {
  const command = program
    .command('inspect')
    .description('decode one log object: by sequence number from the store, or a local file')
    .argument('<target>', 'a sequence number (42) or log key (000000000000002a) in the store, or a file path')
    .option('--json', 'machine-readable output')
    .option('--volume-size <bytes>', 'check entries against this volume size (default: volume.json, else the largest volume)');
  addStoreOptions(command);
  addLoggingOptions(command);
  command.action(async (target: string, _options: unknown, self: Command) => runInspect(context, target, self.opts<InspectFlags>()));
}
