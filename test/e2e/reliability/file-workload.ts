/**
 * A filesystem workload for crash rounds: a few workers create files, replace some by rename,
 * delete old ones and scribble unsynced noise, each step recorded in a FileLedger as it is
 * begun and as its fsync returns. It runs until it is stopped or a filesystem call fails (as
 * every call does once the daemon under the mount is killed).
 *
 * The seed fixes each worker's choices (operation, file sizes); how far a worker gets before
 * the kill depends on timing, so a replay repeats the schedule, not the exact cut.
 */

import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createSeededRandom } from '../../../scripts/s3-proxy/seeded-random.js';
import { sha256Hex, type FileLedger } from './file-ledger.js';

const KIB = 1024;
const MIB = 1024 * KIB;
/** Directories the files spread over, so directory blocks and inode tables change too. */
export const WORKLOAD_DIRECTORY_COUNT = 8;
/** Unsynced noise, rewritten in place: dirty pages in flight when the daemon dies. */
const NOISE_SIZE_MAX_BYTES = 2 * MIB;

export interface WorkloadOptions {
  /** Where the filesystem under test is mounted. */
  root: string;
  ledger: FileLedger;
  seed: number;
  /** Names carry the round, so every file name is new. */
  round: number;
  workerCount: number;
  /** Each worker deletes its oldest files while its acknowledged files exceed this. */
  workerBytesBudget: number;
}

export interface WorkloadCounts {
  /** Files (new or replaced) whose fsync and directory fsync returned. */
  filesAcknowledged: number;
  deletesAcknowledged: number;
  noiseWrites: number;
}

export interface RunningWorkload {
  counts: WorkloadCounts;
  /** The first error of each worker that stopped on one (expected once the daemon is dead). */
  errors: unknown[];
  /** Asks every worker to stop after its current step. */
  stop(): void;
  /** Settles when every worker has stopped. */
  finished: Promise<void>;
}

/** A random size: mostly small files, some of a few hundred KiB, a few of several MiB. */
function fileSizeBytes(random: () => number): number {
  const draw = random();
  if (draw < 0.7) return 1 + Math.floor(random() * 128 * KIB);
  if (draw < 0.95) return 128 * KIB + Math.floor(random() * 896 * KIB);
  return MIB + Math.floor(random() * 7 * MIB);
}

async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function writeAndSync(path: string, data: Uint8Array): Promise<void> {
  const handle = await open(path, 'wx');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Creates the directories once, each made durable in its parent before any file goes in. */
export async function prepareDirectories(root: string): Promise<void> {
  for (let index = 0; index < WORKLOAD_DIRECTORY_COUNT; index++) await mkdir(join(root, `d${index}`), { recursive: true });
  await mkdir(join(root, 'noise'), { recursive: true });
  await syncDirectory(root);
}

class Worker {
  readonly #options: WorkloadOptions;
  readonly #index: number;
  readonly #random: () => number;
  readonly #counts: WorkloadCounts;
  #step = 0;

  constructor(options: WorkloadOptions & { index: number; counts: WorkloadCounts }) {
    this.#options = options;
    this.#index = options.index;
    this.#counts = options.counts;
    this.#random = createSeededRandom((options.seed ^ Math.imul(options.index + 1, 0x9e3779b1)) | 0);
  }

  async step(): Promise<void> {
    this.#step += 1;
    const owned = this.#options.ledger.presentFilesOf(this.#index);
    const ownedBytes = owned.reduce((sum, file) => sum + file.sizeBytes, 0);
    const oldest = owned[0];
    const draw = this.#random();
    if (oldest !== undefined && ownedBytes > this.#options.workerBytesBudget) return this.#delete(oldest);
    if (draw < 0.1) return this.#noise();
    if (draw < 0.3 && owned.length > 0) return this.#replace(owned[Math.floor(this.#random() * owned.length)] ?? oldest);
    return this.#create();
  }

  #newPath(suffix = ''): string {
    const directory = `d${Math.floor(this.#random() * WORKLOAD_DIRECTORY_COUNT)}`;
    return join(directory, `r${this.#options.round}-w${this.#index}-${this.#step}${suffix}.bin`);
  }

  async #create(): Promise<void> {
    const { ledger, root } = this.#options;
    const path = this.#newPath();
    const data = randomBytes(fileSizeBytes(this.#random));
    ledger.set(path, { owner: this.#index, sizeBytes: data.length, expectation: { kind: 'creating' } });
    await writeAndSync(join(root, path), data);
    await syncDirectory(dirname(join(root, path)));
    ledger.set(path, { owner: this.#index, sizeBytes: data.length, expectation: { kind: 'present', sha256: sha256Hex(data) } });
    this.#counts.filesAcknowledged += 1;
  }

  /** Write a new version beside the file, fsync it, rename it over the old one, fsync the directory. */
  async #replace(file: { path: string; sha256: string } | undefined): Promise<void> {
    if (file === undefined) return this.#create();
    const { ledger, root } = this.#options;
    const temporaryPath = `${file.path}.r${this.#options.round}-${this.#step}.tmp`;
    const data = randomBytes(fileSizeBytes(this.#random));
    const sha256 = sha256Hex(data);
    ledger.set(temporaryPath, { owner: this.#index, sizeBytes: data.length, expectation: { kind: 'creating' } });
    await writeAndSync(join(root, temporaryPath), data);
    ledger.set(file.path, { owner: this.#index, sizeBytes: data.length, expectation: { kind: 'replacing', sha256s: [file.sha256, sha256] } });
    await rename(join(root, temporaryPath), join(root, file.path));
    await syncDirectory(dirname(join(root, file.path)));
    ledger.forget(temporaryPath);
    ledger.set(file.path, { owner: this.#index, sizeBytes: data.length, expectation: { kind: 'present', sha256 } });
    this.#counts.filesAcknowledged += 1;
  }

  async #delete(file: { path: string; sha256: string; sizeBytes: number }): Promise<void> {
    const { ledger, root } = this.#options;
    ledger.set(file.path, { owner: this.#index, sizeBytes: file.sizeBytes, expectation: { kind: 'deleting', sha256: file.sha256 } });
    await unlink(join(root, file.path));
    await syncDirectory(dirname(join(root, file.path)));
    ledger.set(file.path, { owner: this.#index, sizeBytes: 0, expectation: { kind: 'deleted' } });
    this.#counts.deletesAcknowledged += 1;
  }

  async #noise(): Promise<void> {
    const sizeBytes = 1 + Math.floor(this.#random() * NOISE_SIZE_MAX_BYTES);
    await writeFile(join(this.#options.root, 'noise', `w${this.#index}.bin`), randomBytes(sizeBytes));
    this.#counts.noiseWrites += 1;
  }
}

/** Removes the never-acknowledged files earlier crashes left (not synced: they are garbage either way). */
export async function removeLeftovers(options: { root: string; ledger: FileLedger }): Promise<number> {
  const leftovers = options.ledger.leftovers();
  for (const path of leftovers) {
    await unlink(join(options.root, path)).catch((error: unknown) => {
      if ((error as { code?: unknown }).code !== 'ENOENT') throw error;
    });
  }
  return leftovers.length;
}

export function startWorkload(options: WorkloadOptions): RunningWorkload {
  const counts: WorkloadCounts = { filesAcknowledged: 0, deletesAcknowledged: 0, noiseWrites: 0 };
  const errors: unknown[] = [];
  let stopped = false;
  const workers = Array.from({ length: options.workerCount }, (_, index) => new Worker({ ...options, index, counts }));
  const finished = Promise.all(workers.map(async (worker) => {
    try {
      while (!stopped) await worker.step();
    } catch (error) {
      errors.push(error);
    }
  })).then(() => undefined);
  return { counts, errors, stop: () => (stopped = true), finished };
}
