/**
 * `lsvd run` flags + environment → one frozen DaemonConfig (DESIGN.md §7). Flags win.
 */

import { isAbsolute, resolve } from 'node:path';
import type { AttachMode, DaemonConfig } from '../daemon/lifecycle.js';
import { resolveVolumeConfig, type VolumeConfig } from '../daemon/volume-config.js';
import type { Environment } from './config.js';
import { ENVIRONMENT_VARIABLES } from './config.js';
import { usageError } from './errors.js';
import { parseSizeBytes } from './parse.js';

/** The embedded default: without any store configured, the volume lives in this directory. */
export const DEFAULT_FILE_STORE_DIRECTORY = '/var/lib/lsvd/volume';
/** A new volume without a configured size gets this much (sparse: unwritten space costs nothing). */
export const DEFAULT_NEW_VOLUME_SIZE_BYTES = 10 * 2 ** 30;
export const DEFAULT_RUN_DIRECTORY = '/run/lsvd';
export const DEFAULT_SOCKET_NAME = 'nbd.sock';
export const DEFAULT_MOUNT_POINT = '/mnt/lsvd';
export const DEFAULT_DEVICE_PATH = '/dev/nbd0';
export const DEFAULT_EXPORT_NAME = 'lsvd';
export const DEFAULT_KERNEL_TIMEOUT_SECONDS = 60;
const ATTACH_MODES: readonly AttachMode[] = ['auto', 'kernel', 'fuse', 'none'];

export const RUN_ENVIRONMENT_VARIABLES = {
  size: 'LSVD_SIZE',
  socket: 'LSVD_SOCKET',
  attach: 'LSVD_ATTACH',
  device: 'LSVD_DEVICE',
  mount: 'LSVD_MOUNT',
  exportName: 'LSVD_EXPORT_NAME',
  runDirectory: 'LSVD_RUN_DIR',
  tcp: 'LSVD_TCP',
  uploadMemory: 'LSVD_UPLOAD_MEMORY',
  cacheSize: 'LSVD_CACHE_SIZE',
  readTimeout: 'LSVD_READ_TIMEOUT',
} as const;
const RUN_ENV = RUN_ENVIRONMENT_VARIABLES;

export interface RunFlags {
  size?: string;
  adopt?: boolean;
  socket?: string;
  tcp?: string;
  attach?: string;
  device?: string;
  /** A path, or false for `--no-mount`. */
  mount?: string | boolean;
  exportName?: string;
  runDir?: string;
  kernelTimeout?: string;
  force?: boolean;
  uploadMemory?: string;
  cacheSize?: string;
  readTimeout?: string;
}

function fromEnvironment(env: Environment, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function absolutePath(path: string, cwd: string): string {
  return isAbsolute(path) ? path : resolve(cwd, path);
}

function parseTcp(text: string): { host: string; port: number } {
  const match = /^(?:(.+):)?(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (match === null || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw usageError(`--tcp must be [host:]port with a port 1..65535, not ${JSON.stringify(text)}`);
  }
  return { host: match[1] ?? '127.0.0.1', port };
}

function parseAttach(text: string): AttachMode {
  if (!(ATTACH_MODES as readonly string[]).includes(text)) throw usageError(`--attach must be one of ${ATTACH_MODES.join(', ')}, not ${JSON.stringify(text)}`);
  return text as AttachMode;
}

function parseSeconds(text: string, what: string): number {
  const seconds = /^\d{1,6}$/.test(text) ? Number(text) : Number.NaN;
  if (!(seconds > 0)) throw usageError(`${what} must be a whole number of seconds above 0, not ${JSON.stringify(text)}`);
  return seconds;
}

export function buildDaemonConfig(options: { flags: RunFlags; env: Environment; cwd: string }): Readonly<DaemonConfig> {
  const { flags, env, cwd } = options;
  const sizeText = flags.size ?? fromEnvironment(env, RUN_ENV.size) ?? fromEnvironment(env, ENVIRONMENT_VARIABLES.deviceSize);
  const runDirectory = absolutePath(flags.runDir ?? fromEnvironment(env, RUN_ENV.runDirectory) ?? DEFAULT_RUN_DIRECTORY, cwd);
  const attach = parseAttach(flags.attach ?? fromEnvironment(env, RUN_ENV.attach) ?? 'auto');
  const mountText = flags.mount === false ? undefined : typeof flags.mount === 'string' ? flags.mount
    : (fromEnvironment(env, RUN_ENV.mount) ?? fromEnvironment(env, ENVIRONMENT_VARIABLES.mountPoint) ?? DEFAULT_MOUNT_POINT);
  if (attach === 'none' && typeof flags.mount === 'string') throw usageError('--mount needs a block device: it cannot be used with --attach none');
  const tcpText = flags.tcp ?? fromEnvironment(env, RUN_ENV.tcp);
  const exportName = flags.exportName ?? fromEnvironment(env, RUN_ENV.exportName) ?? DEFAULT_EXPORT_NAME;
  if (exportName.length === 0 || Buffer.byteLength(exportName) > 4096) throw usageError('--export-name must be 1..4096 bytes');
  const sizeBytes = sizeText === undefined ? undefined : parseSizeBytes(sizeText, '--size');
  if (sizeBytes !== undefined && (sizeBytes <= 0 || sizeBytes % 4096 !== 0)) {
    throw usageError(`--size must be a positive multiple of 4096 bytes, not ${sizeBytes}`);
  }
  return Object.freeze({
    ...(sizeBytes === undefined ? {} : { sizeBytes }),
    adoptExisting: flags.adopt === true,
    socketPath: absolutePath(flags.socket ?? fromEnvironment(env, RUN_ENV.socket) ?? `${runDirectory}/${DEFAULT_SOCKET_NAME}`, cwd),
    ...(tcpText === undefined ? {} : { tcp: parseTcp(tcpText) }),
    exportName,
    attach,
    devicePath: flags.device ?? fromEnvironment(env, RUN_ENV.device) ?? DEFAULT_DEVICE_PATH,
    ...(attach === 'none' || mountText === undefined ? {} : { mountPoint: absolutePath(mountText, cwd) }),
    runDirectory,
    kernelTimeoutSeconds: flags.kernelTimeout === undefined ? DEFAULT_KERNEL_TIMEOUT_SECONDS : parseSeconds(flags.kernelTimeout, '--kernel-timeout'),
    force: flags.force === true,
    volume: buildVolumeTuning(flags, env),
  });
}

/** The engine's memory and time bounds an operator may set (docs/OPERATIONS.md). */
function buildVolumeTuning(flags: RunFlags, env: Environment): Partial<VolumeConfig> {
  const uploadMemory = flags.uploadMemory ?? fromEnvironment(env, RUN_ENV.uploadMemory);
  const cacheSize = flags.cacheSize ?? fromEnvironment(env, RUN_ENV.cacheSize);
  const readTimeout = flags.readTimeout ?? fromEnvironment(env, RUN_ENV.readTimeout);
  const tuning: Partial<VolumeConfig> = {};
  if (uploadMemory !== undefined) tuning.unuploadedBytesMax = parseSizeBytes(uploadMemory, '--upload-memory');
  if (cacheSize !== undefined) tuning.readCacheBytes = parseSizeBytes(cacheSize, '--cache-size');
  if (readTimeout !== undefined) tuning.readRetryTimeoutMs = parseSeconds(readTimeout, '--read-timeout') * 1000;
  try {
    resolveVolumeConfig(tuning); // checks the values against each other now: a bad combination is a usage error
  } catch (error) {
    throw usageError(error instanceof Error ? error.message : String(error));
  }
  return tuning;
}
