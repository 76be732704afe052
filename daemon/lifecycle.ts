/**
 * `lsvd run` as a sequence an operator can follow in the log (docs/OPERATIONS.md):
 * claim the volume → recovery → serve NBD on the socket → attach a block device → find or
 * create ext4 → mount → grow the filesystem if the volume grew. `stop()` walks it backwards:
 * unmount → detach → close the server → upload every acknowledged write → give the volume
 * back → "Device has shut down."
 */

import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { claimLease, releaseLease, type LeaseHolder } from '../recovery/lease.js';
import { NbdServer } from '../nbd/server.js';
import type { ObjectStore } from '../store/object-store.js';
import { probeCreateOnly } from '../store/probe.js';
import {
  attachFuse,
  attachKernel,
  growFilesystemIfNeeded,
  hasFilesystem,
  kernelNbdAvailable,
  makeFilesystem,
  mountFilesystem,
  type AttachedDevice,
  type MountedFilesystem,
} from './attach/index.js';
import { randomHex, type Clock, type Random } from './clock.js';
import { openVolume } from './open-volume.js';
import type { Volume } from './volume.js';
import type { VolumeConfig } from './volume-config.js';

export type AttachMode = 'auto' | 'kernel' | 'fuse' | 'none';

export interface DaemonConfig {
  /** Create the volume with, or grow it to, this size; absent: the volume's own size. */
  sizeBytes?: number;
  adoptExisting: boolean;
  socketPath: string;
  /** Also serve NBD on TCP (loopback unless a host is given). */
  tcp?: { host: string; port: number };
  exportName: string;
  attach: AttachMode;
  /** The kernel NBD device for `kernel` (and `auto`) attachment. */
  devicePath: string;
  /** Where to mount ext4; absent: attach only. */
  mountPoint?: string;
  /** nbdfuse's mount point and pid file live here. */
  runDirectory: string;
  /** The kernel fails a request after this long without a reply. */
  kernelTimeoutSeconds: number;
  /** Take the volume over from another holder. */
  force: boolean;
  volume: Partial<VolumeConfig>;
}

export interface DaemonStartOptions {
  store: ObjectStore;
  config: Readonly<DaemonConfig>;
  logger: Logger;
  clock: Clock;
  random: Random;
  holder: LeaseHolder;
  isProcessAlive: (pid: number) => boolean;
}

/** Random bytes in a daemon's lease holder id and the store probe's key. */
const HOLDER_ID_RANDOM_BYTES = 8;

export function newHolderId(random: Random): string {
  return randomHex(random, HOLDER_ID_RANDOM_BYTES);
}

export class Daemon {
  readonly volume: Volume;
  readonly #options: DaemonStartOptions;
  readonly #server: NbdServer;
  #device: AttachedDevice | undefined;
  #mounted: MountedFilesystem | undefined;
  #stopping: Promise<void> | undefined;

  private constructor(options: DaemonStartOptions, volume: Volume, server: NbdServer) {
    this.#options = options;
    this.volume = volume;
    this.#server = server;
  }

  /** Settles when the volume stops on its own (fenced by another writer): the daemon must exit non-zero. */
  get failure(): Promise<Error> {
    return this.volume.failure;
  }

  static async start(options: DaemonStartOptions): Promise<Daemon> {
    const { store, config, logger } = options;
    logger.info({ store: store.description }, `Starting lsvd on ${store.description}.`);
    await warnUnlessCreateOnlyEnforced(options);
    const claim = await claimLease({ ...options, force: config.force, nowIso: () => new Date(options.clock.nowMs()).toISOString() });
    logger.info({ holder: options.holder, claim }, 'Holding the volume lease.');
    let volume: Volume | undefined;
    try {
      volume = await openVolume({
        store,
        clock: options.clock,
        random: options.random,
        logger,
        config: config.volume,
        adoptExisting: config.adoptExisting,
        fenceAfterTakeover: claim === 'taken-over',
        ...(config.sizeBytes === undefined ? {} : { sizeBytes: config.sizeBytes }),
      });
      const server = new NbdServer({ device: volume, exportName: config.exportName, description: `lsvd ${store.description}`, logger });
      const daemon = new Daemon(options, volume, server);
      await daemon.#serveAndAttach();
      logger.info({ socketPath: config.socketPath, devicePath: daemon.#device?.devicePath, mountPoint: daemon.#mounted?.mountPoint }, 'lsvd is ready.');
      return daemon;
    } catch (error) {
      volume?.abandon();
      await releaseLease({ store, holder: options.holder, logger }).catch(() => undefined);
      throw error;
    }
  }

  async #serveAndAttach(): Promise<void> {
    const { config, logger } = this.#options;
    try {
      // Runtime files are the daemon's alone (0700): whoever reaches the socket can write the disk.
      await mkdir(dirname(config.socketPath), { recursive: true, mode: 0o700 });
      await mkdir(config.runDirectory, { recursive: true, mode: 0o700 });
      await this.#server.listenUnix(config.socketPath);
      logger.info({ socketPath: config.socketPath, exportName: config.exportName }, `Serving NBD on ${config.socketPath}.`);
      if (config.tcp !== undefined) await this.#server.listenTcp(config.tcp);
      this.#device = await this.#attach();
      if (this.#device === undefined) return;
      logger.info({ devicePath: this.#device.devicePath }, `Device operational: ${this.#device.devicePath}.`);
      if (config.mountPoint !== undefined) await this.#mount(this.#device.devicePath, config.mountPoint);
    } catch (error) {
      await this.#teardown();
      throw error;
    }
  }

  async #attach(): Promise<AttachedDevice | undefined> {
    const { config, logger } = this.#options;
    const common = { socketPath: config.socketPath, exportName: config.exportName, logger };
    let mode = config.attach;
    if (mode === 'none') return undefined;
    if (mode === 'auto') {
      mode = (await kernelNbdAvailable()) ? 'kernel' : 'fuse';
      if (mode === 'fuse') logger.info('This kernel has no NBD driver: attaching through nbdfuse and a loop device instead.');
    }
    if (mode === 'kernel') {
      return attachKernel({ ...common, devicePath: config.devicePath, timeoutSeconds: config.kernelTimeoutSeconds });
    }
    return attachFuse({ ...common, runDirectory: config.runDirectory });
  }

  async #mount(devicePath: string, mountPoint: string): Promise<void> {
    const { logger } = this.#options;
    if (!(await hasFilesystem(devicePath))) {
      // A volume nobody ever wrote reads as zeros everywhere, so mkfs may skip zeroing.
      const stats = this.volume.stats();
      await makeFilesystem({ devicePath, logger, devicePrezeroed: stats.lastSealedSequence === 0 && stats.openObjectBytes === 0 });
    }
    // Before mounting: an offline resize needs no CAP_SYS_RESOURCE (containers often lack it).
    await growFilesystemIfNeeded({ devicePath, mountPoint, logger });
    this.#mounted = await mountFilesystem({ devicePath, mountPoint, logger });
    logger.info({ devicePath, mountPoint }, `Mounted ${devicePath} on ${mountPoint}.`);
  }

  /** Bytes acknowledged to a client but not yet in the store. */
  unuploadedBytes(): number {
    return this.volume.stats().unuploadedBytes;
  }

  /** The orderly shutdown; idempotent. Resolves once every acknowledged write is in the store. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    const { store, holder, logger } = this.#options;
    logger.info('Shutting down: unmounting, detaching, then uploading every acknowledged write.');
    await this.#teardown();
    await this.volume.close();
    await releaseLease({ store, holder, logger });
    logger.info('Device has shut down.');
  }

  /** Unmount, detach, stop serving: each step runs even if an earlier one failed; the first error is rethrown. */
  async #teardown(): Promise<void> {
    const steps: (() => Promise<void>)[] = [
      async () => {
        await this.#mounted?.unmount();
        this.#mounted = undefined;
      },
      async () => {
        await this.#device?.detach();
        this.#device = undefined;
      },
      () => this.#server.close(),
    ];
    let firstError: unknown;
    for (const step of steps) {
      try {
        await step();
      } catch (error) {
        this.#options.logger.error({ err: error }, 'A shutdown step failed.');
        firstError ??= error;
      }
    }
    if (firstError !== undefined) throw firstError;
  }
}

async function warnUnlessCreateOnlyEnforced(options: DaemonStartOptions): Promise<void> {
  const { store, logger } = options;
  const { enforced } = await probeCreateOnly(store, { probeId: randomHex(options.random, HOLDER_ID_RANDOM_BYTES) });
  if (enforced) {
    logger.info({ createOnlyEnforced: true }, 'The store enforces create-only writes: a second writer is fenced at its first upload.');
    return;
  }
  logger.warn(
    { createOnlyEnforced: false },
    `WARNING: ${store.description} accepts and ignores If-None-Match: a second writer that bypasses the lease could overwrite log objects. Fencing is weaker on this store; never run two daemons on one volume.`,
  );
}
