/**
 * Crash rounds on one volume in s3rver, shared by test/e2e/crash.test.ts (a handful) and
 * scripts/crash-campaign.ts (a hundred). One round:
 *
 * 1. `lsvd run --attach fuse --mount` (ext4 is created on the first round);
 * 2. the file workload runs; after a seeded delay the daemon gets SIGKILL mid-workload;
 * 3. the dead mount, loop device and FUSE mount are cleared (kernel.ts);
 * 4. `lsvd run --attach fuse --no-mount` recovers the volume from the bucket;
 * 5. the journal is replayed (mount + umount) and `fsck.ext4 -fn` must be clean;
 * 6. mounted read-only, every fsync-acknowledged file must read back with its SHA-256;
 * 7. SIGTERM, exit 0; the next round starts from this volume.
 */

import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fusePaths } from '../../../daemon/attach/fuse.js';
import { isMountPoint } from '../../../daemon/attach/system.js';
import { createSeededRandom } from '../../../scripts/s3-proxy/seeded-random.js';
import type { ObjectStore } from '../../../store/object-store.js';
import { S3Store } from '../../../store/s3-store.js';
import { startS3rver, type S3rverInstance } from '../../helpers/s3rver.js';
import type { DaemonProcess } from '../helpers/daemon.js';
import { makeS3rverPutsAtomic } from './atomic-s3rver.js';
import { ReliabilityError } from './errors.js';
import { FileLedger, type LedgerVerification } from './file-ledger.js';
import { prepareDirectories, removeLeftovers, startWorkload, type WorkloadCounts } from './file-workload.js';
import { devicePathOf, fuseVolumePaths, recoveredObjectCount, startFuseDaemon, stopCleanly, VOLUME_PREFIX, type FuseVolumePaths } from './fuse-daemon.js';
import { clearDeadAttachment, mountExt4, replayJournalAndCheck, unmountQuietly } from './kernel.js';

const MIB = 1024 * 1024;
/** A round told to kill after some acknowledged files waits at most this long for them. */
const ACKNOWLEDGED_WAIT_MAX_MS = 60_000;
const ACKNOWLEDGED_POLL_MS = 50;
/** Once the daemon is dead every filesystem call fails at once (EIO, EROFS); one that does not is a hang. */
const WORKLOAD_SETTLE_TIMEOUT_MS = 60_000;

export interface CrashRoundsOptions {
  seed: number;
  volumeSizeBytes?: number;
  /** The kill comes uniformly between these two delays after the workload started. */
  killDelayMinMs?: number;
  killDelayMaxMs?: number;
  workerCount?: number;
  workerBytesBudget?: number;
}

export interface RoundReport {
  round: number;
  killDelayMs: number;
  workload: WorkloadCounts;
  journalNeededReplay: boolean;
  /** Log objects the verifying daemon replayed. */
  objectsRecovered: number | undefined;
  filesVerified: number;
  bytesVerified: number;
  durationMs: number;
  /** Milliseconds spent in each step, by name, in order. */
  phasesMs: Record<string, number>;
}

export interface CrashTotals {
  rounds: number;
  crashesSurvived: number;
  filesAcknowledged: number;
  /** Acknowledged files read back intact, summed over rounds (a file is checked every round it lives). */
  filesVerified: number;
  bytesVerified: number;
  journalReplays: number;
}

function killDelayOf(random: () => number, minMs: number, maxMs: number): number {
  return Math.round(minMs + random() * (maxMs - minMs));
}

export class CrashRounds {
  readonly #s3: S3rverInstance;
  readonly #directory: string;
  readonly #paths: FuseVolumePaths;
  readonly #options: Required<CrashRoundsOptions>;
  readonly #random: () => number;
  readonly #ledger = new FileLedger();
  readonly #totals: CrashTotals = { rounds: 0, crashesSurvived: 0, filesAcknowledged: 0, filesVerified: 0, bytesVerified: 0, journalReplays: 0 };
  /** The daemon currently running, if any: close() stops it. */
  #daemon: DaemonProcess | undefined;
  #phasesMs: Record<string, number> = {};
  #phaseStartMs = 0;

  private constructor(s3: S3rverInstance, directory: string, options: Required<CrashRoundsOptions>) {
    this.#s3 = s3;
    this.#directory = directory;
    this.#paths = fuseVolumePaths(directory);
    this.#options = options;
    this.#random = createSeededRandom(options.seed);
  }

  static async start(options: CrashRoundsOptions): Promise<CrashRounds> {
    const resolved: Required<CrashRoundsOptions> = {
      volumeSizeBytes: 512 * MIB, killDelayMinMs: 300, killDelayMaxMs: 5_000, workerCount: 2, workerBytesBudget: 24 * MIB, ...options,
    };
    makeS3rverPutsAtomic();
    const s3 = await startS3rver();
    const directory = await mkdtemp(join(tmpdir(), 'lsvd-crash-'));
    const rounds = new CrashRounds(s3, directory, resolved);
    await mkdir(rounds.#paths.mountPoint, { recursive: true });
    return rounds;
  }

  totals(): CrashTotals {
    return { ...this.#totals };
  }

  /** Ends the current step of the round, under `name`. */
  #phase(name: string): void {
    const nowMs = Date.now();
    this.#phasesMs[name] = nowMs - this.#phaseStartMs;
    this.#phaseStartMs = nowMs;
  }

  /** Runs `use` on an S3 store of the volume's prefix (for a test's own look at the bucket). */
  async withStore<T>(use: (store: ObjectStore) => Promise<T>): Promise<T> {
    const store = new S3Store(this.#s3.storeConfig(VOLUME_PREFIX));
    try {
      return await use(store);
    } finally {
      await store.close();
    }
  }

  /**
   * `beforeRecovery` runs between the crash and the recovery: a test's way to break the volume
   * on purpose. `killAfterFilesAcknowledged` replaces the seeded delay: the kill comes once the
   * workload has that many files acknowledged (for a test that needs some, on a slow machine).
   */
  async runRound(options: { beforeRecovery?: (store: ObjectStore) => Promise<void>; killAfterFilesAcknowledged?: number } = {}): Promise<RoundReport> {
    const startedMs = Date.now();
    this.#phasesMs = {};
    this.#phaseStartMs = startedMs;
    const round = this.#totals.rounds + 1;
    const seededDelayMs = killDelayOf(this.#random, this.#options.killDelayMinMs, this.#options.killDelayMaxMs);
    const workloadSeed = Math.floor(this.#random() * 2 ** 31);
    const { counts: workload, killDelayMs } = await this.#crash({ round, workloadSeed,
      killAfter: options.killAfterFilesAcknowledged === undefined ? { delayMs: seededDelayMs } : { filesAcknowledged: options.killAfterFilesAcknowledged } });
    this.#totals.crashesSurvived += 1;
    this.#totals.filesAcknowledged += workload.filesAcknowledged;
    if (options.beforeRecovery !== undefined) await this.withStore(options.beforeRecovery);
    const check = await this.#recoverAndVerify();
    this.#totals.rounds = round;
    this.#totals.filesVerified += check.filesVerified;
    this.#totals.bytesVerified += check.bytesVerified;
    if (check.journalNeededReplay) this.#totals.journalReplays += 1;
    return { round, killDelayMs, workload, ...check, durationMs: Date.now() - startedMs, phasesMs: this.#phasesMs };
  }

  /** Steps 1–3: run the workload and kill the daemon under it. */
  async #crash(options: { round: number; workloadSeed: number; killAfter: { delayMs: number } | { filesAcknowledged: number } }): Promise<{ counts: WorkloadCounts; killDelayMs: number }> {
    const root = this.#paths.mountPoint;
    this.#daemon = await startFuseDaemon({ s3: this.#s3, paths: this.#paths, volumeSizeBytes: this.#options.volumeSizeBytes, mount: true });
    await prepareDirectories(root);
    await removeLeftovers({ root, ledger: this.#ledger });
    this.#phase('start');
    const workload = startWorkload({ root, ledger: this.#ledger, seed: options.workloadSeed, round: options.round,
      workerCount: this.#options.workerCount, workerBytesBudget: this.#options.workerBytesBudget });
    const workloadStartedMs = Date.now();
    if ('delayMs' in options.killAfter) {
      await sleep(options.killAfter.delayMs);
    } else {
      const deadlineMs = workloadStartedMs + ACKNOWLEDGED_WAIT_MAX_MS;
      while (workload.counts.filesAcknowledged < options.killAfter.filesAcknowledged && workload.errors.length === 0 && Date.now() < deadlineMs) {
        await sleep(ACKNOWLEDGED_POLL_MS);
      }
    }
    const killDelayMs = Date.now() - workloadStartedMs;
    if (workload.errors.length > 0) {
      workload.stop();
      throw new ReliabilityError('ERR_RELIABILITY_WORKLOAD_FAILED', `the workload failed before the kill: ${String(workload.errors[0])}`, { cause: workload.errors[0] });
    }
    this.#daemon.child.kill('SIGKILL');
    await this.#daemon.exited;
    this.#daemon = undefined;
    workload.stop();
    let timer: NodeJS.Timeout | undefined;
    const settled = await Promise.race([workload.finished.then(() => true), new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), WORKLOAD_SETTLE_TIMEOUT_MS)))]);
    clearTimeout(timer);
    if (!settled) throw new ReliabilityError('ERR_RELIABILITY_WORKLOAD_HUNG', `the workload was still in a filesystem call ${WORKLOAD_SETTLE_TIMEOUT_MS} ms after the daemon died`);
    this.#phase('workload');
    await clearDeadAttachment({ mountPoint: root, runDirectory: this.#paths.runDirectory });
    this.#phase('cleanup');
    return { counts: workload.counts, killDelayMs };
  }

  /** Steps 4–7. */
  async #recoverAndVerify(): Promise<{ journalNeededReplay: boolean; objectsRecovered: number | undefined; filesVerified: number; bytesVerified: number }> {
    const daemon = await startFuseDaemon({ s3: this.#s3, paths: this.#paths, volumeSizeBytes: this.#options.volumeSizeBytes, mount: false });
    this.#daemon = daemon;
    const devicePath = devicePathOf(daemon);
    const mountPoint = this.#paths.mountPoint;
    this.#phase('recover');
    const { journalNeededReplay } = await replayJournalAndCheck({ devicePath, mountPoint });
    this.#phase('fsck');
    await mountExt4({ devicePath, mountPoint, readOnly: true });
    let verification: LedgerVerification;
    try {
      verification = await this.#ledger.verify(mountPoint);
    } finally {
      await unmountQuietly(mountPoint);
    }
    this.#phase('verify');
    this.#daemon = undefined;
    await stopCleanly(daemon);
    this.#phase('stop');
    if (verification.problems.length > 0) {
      throw new ReliabilityError('ERR_RELIABILITY_FILE_LOST', `seed ${this.#options.seed}: ${verification.problems.length} acknowledged files are wrong:\n${verification.problems.join('\n')}`);
    }
    return { journalNeededReplay, objectsRecovered: recoveredObjectCount(daemon), filesVerified: verification.filesVerified, bytesVerified: verification.bytesVerified };
  }

  /** Stops whatever still runs, clears the kernel side, removes s3rver and the directory. */
  async close(): Promise<void> {
    const daemon = this.#daemon;
    this.#daemon = undefined;
    try {
      await unmountQuietly(this.#paths.mountPoint);
      if (daemon !== undefined) await daemon.stop('SIGTERM');
      await clearDeadAttachment({ mountPoint: this.#paths.mountPoint, runDirectory: this.#paths.runDirectory });
    } finally {
      await this.#s3.close();
      // Never recurse into a live mount: that would delete files on the filesystem under it.
      const stillMounted = [this.#paths.mountPoint, fusePaths(this.#paths.runDirectory).mountDirectory];
      if (!(await Promise.all(stillMounted.map((path) => isMountPoint(path)))).some(Boolean)) {
        await rm(this.#directory, { recursive: true, force: true });
      }
    }
  }
}
