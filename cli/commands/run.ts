/**
 * `lsvd run`: serve a volume over NBD, attach it, mount it, and give it back cleanly on
 * SIGTERM/SIGINT. Exit codes (docs/CLI.md): 0 after a clean shutdown; 1 when start-up fails
 * or the volume is fenced by another writer; 2 for usage errors; 130 when a second signal
 * interrupted the shutdown (acknowledged writes may not be in the store).
 */

import { randomInt } from 'node:crypto';
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { RealClock, SeededRandom } from '../../daemon/clock.js';
import { Daemon, newHolderId } from '../../daemon/lifecycle.js';
import { readVolumeDescriptor } from '../../recovery/descriptor.js';
import { addStoreOptions } from '../config.js';
import type { StoreFlags } from '../config.js';
import { commandLogger, type CommandContext } from '../context.js';
import { buildStoreConfig } from '../config.js';
import { addLoggingOptions, type Logger, type LoggingFlags } from '../logger.js';
import { buildDaemonConfig, DEFAULT_FILE_STORE_DIRECTORY, DEFAULT_NEW_VOLUME_SIZE_BYTES, type RunFlags } from '../run-config.js';

/** A second signal during shutdown ends the process at once with this code (128 + SIGINT). */
export const EXIT_INTERRUPTED = 130;
const SHUTDOWN_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

type Flags = RunFlags & StoreFlags & LoggingFlags;

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Resolves with the first shutdown signal; a second one exits at once, saying what was not
 * stored. Installed before start-up begins, so a signal during recovery or attach is a clean
 * shutdown once start-up has finished, never Node's default (die at once).
 */
function shutdownSignal(logger: Logger, unuploadedBytes: () => number): Promise<string> {
  return new Promise((resolve) => {
    let received = false;
    const onSignal = (signal: string): void => {
      if (!received) {
        received = true;
        logger.info({ signal }, `Received ${signal}: shutting down cleanly (send it again to exit at once).`);
        resolve(signal);
        return;
      }
      logger.warn(
        { signal, unuploadedBytes: unuploadedBytes() },
        `Received ${signal} again: exiting at once. ${unuploadedBytes()} acknowledged bytes are not in the store; writes not covered by a completed FLUSH may be lost.`,
      );
      logger.flush?.();
      process.exit(EXIT_INTERRUPTED);
    };
    for (const signal of SHUTDOWN_SIGNALS) process.on(signal, onSignal);
  });
}

async function runDaemon(context: CommandContext, flags: Flags): Promise<void> {
  const { io } = context;
  const logger = commandLogger(context, flags);
  const storeConfig = buildStoreConfig({ flags, env: io.env, cwd: io.cwd, defaultStore: { kind: 'file', directory: DEFAULT_FILE_STORE_DIRECTORY } });
  let config = buildDaemonConfig({ flags, env: io.env, cwd: io.cwd });
  if (storeConfig.kind === 'file' && storeConfig.directory === DEFAULT_FILE_STORE_DIRECTORY) {
    logger.info({ directory: DEFAULT_FILE_STORE_DIRECTORY }, `No store configured: the volume lives in the local directory ${DEFAULT_FILE_STORE_DIRECTORY}.`);
  }
  const clock = new RealClock();
  const random = new SeededRandom(randomInt(2 ** 47));
  const store = await context.openStore(storeConfig);
  try {
    if (config.sizeBytes === undefined && (await readVolumeDescriptor({ store, clock })) === undefined) {
      logger.info({ sizeBytes: DEFAULT_NEW_VOLUME_SIZE_BYTES }, `No volume here yet and no --size: creating one of ${DEFAULT_NEW_VOLUME_SIZE_BYTES} bytes.`);
      config = Object.freeze({ ...config, sizeBytes: DEFAULT_NEW_VOLUME_SIZE_BYTES });
    }
    const holder = { holderId: newHolderId(random), hostname: hostname(), pid: process.pid };
    let daemon: Daemon | undefined;
    const signal = shutdownSignal(logger, () => daemon?.unuploadedBytes() ?? 0);
    daemon = await Daemon.start({ store, config, logger, clock, random, holder, isProcessAlive });
    const outcome = await Promise.race([signal.then(() => 'signal' as const), daemon.failure]);
    if (outcome !== 'signal') {
      logger.fatal({ err: outcome }, `The volume stopped: ${outcome.message}`);
      await daemon.stop().catch(() => undefined);
      throw outcome;
    }
    await daemon.stop();
  } finally {
    await store.close();
  }
}

export function registerRun(program: Command, context: CommandContext): void {
  const command = program
    .command('run')
    .description('serve the volume over NBD, attach it as a block device, create ext4 if needed and mount it; SIGTERM shuts down cleanly')
    .option('--size <bytes>', 'create the volume with, or grow it to, this size, e.g. 10GiB (env LSVD_SIZE, FLY_LSVD_DEVICE_SIZE)')
    .option('--adopt', 'accept log objects without a volume descriptor (a volume written by another lsvd implementation); needs --size')
    .option('--socket <path>', 'the NBD Unix socket (env LSVD_SOCKET; default <run-dir>/nbd.sock)')
    .option('--tcp <[host:]port>', 'also serve NBD on TCP, loopback unless a host is given (env LSVD_TCP)')
    .option('--attach <mode>', 'auto, kernel, fuse or none (env LSVD_ATTACH; default auto)')
    .option('--device <path>', 'the kernel NBD device for --attach kernel (env LSVD_DEVICE; default /dev/nbd0)')
    .option('--mount <dir>', 'mount ext4 here (env LSVD_MOUNT, FLY_LSVD_MOUNT_POINT; default /mnt/lsvd)')
    .option('--no-mount', 'attach the block device but do not format or mount it')
    .option('--export-name <name>', 'the NBD export name (env LSVD_EXPORT_NAME; default lsvd)')
    .option('--run-dir <dir>', 'runtime files: the socket, the FUSE mount (env LSVD_RUN_DIR; default /run/lsvd)')
    .option('--kernel-timeout <seconds>', 'the kernel fails a request after this long without a reply (default 60)')
    .option('--force', "take the volume over from another daemon's lease (only once that daemon is surely dead)")
    .option('--upload-memory <bytes>', 'acknowledged data not yet in the store, at most; past it writes wait (env LSVD_UPLOAD_MEMORY; default 256MiB)')
    .option('--cache-size <bytes>', 'read cache of stored data, including prefetch (env LSVD_CACHE_SIZE; default 64MiB)')
    .option('--read-timeout <seconds>', 'a read of stored data retries this long, then fails with EIO (env LSVD_READ_TIMEOUT; default 60)');
  addStoreOptions(command);
  addLoggingOptions(command);
  command.action(async (_options: unknown, self: Command) => runDaemon(context, self.opts<Flags>()));
}
