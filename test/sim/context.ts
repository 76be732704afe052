/**
 * What the client and the lifecycle share: the model, and the checks that compare the
 * engine's claims with the bucket — the FLUSH audit, the consistent-point check of every
 * new gap-free prefix, and the watch on buffers the engine must no longer write.
 */
import { formatLogKey, formatZeroRangesKey } from '../../logformat/keys.js';
import type { ClientContext } from './client.js';
import type { DaemonProcess } from './daemon-process.js';
import type { VolumeModel } from './model.js';
import type { PrefixTracker } from './reference-replay.js';
import type { SimBucket } from './sim-bucket.js';
import type { RunStats } from './simulation.js';
import type { Workload } from './workload.js';

/** Buffers watched at once; the oldest is checked and dropped past this. */
const WATCHED_BUFFERS_MAX = 16;

export interface ContextOptions {
  model: VolumeModel;
  workload: Workload;
  prefix: PrefixTracker;
  bucket: SimBucket;
  stats: RunStats;
  violation(message: string): void;
  trace(message: string): void;
}

export class ClientContextImpl implements ClientContext {
  readonly model: VolumeModel;
  readonly workload: Workload;
  readonly #options: ContextOptions;
  #watched: { buffer: Uint8Array; snapshot: Uint8Array; what: string }[] = [];
  #lastWriteId = 0;
  /** A zombie's object sits in the bucket prefix: consistent-point checks wait for the next recovery. */
  prefixChecksSuspended = false;

  constructor(options: ContextOptions) {
    this.#options = options;
    this.model = options.model;
    this.workload = options.workload;
  }

  nextWriteId(): number {
    return ++this.#lastWriteId;
  }

  violation(message: string): void {
    this.#options.violation(message);
  }

  trace(message: string): void {
    this.#options.trace(message);
  }

  noteReadFailure(): void {
    this.#options.stats.readFailures++;
  }

  /**
   * DESIGN.md §3 FLUSH: answered only when objects 1..targetSequence are all stored. The
   * process's own objects must be stored exactly as it sent them (a 412 hiding another
   * writer's object is not "stored").
   */
  auditFlush(process: DaemonProcess, targetSequence: number): void {
    const { bucket } = this.#options;
    for (let sequence = process.auditedThroughSequence + 1; sequence <= targetSequence; sequence++) {
      const key = formatLogKey(sequence);
      const stored = bucket.peek(key);
      const what = `a FLUSH of process ${process.processId} through object ${targetSequence} was answered`;
      if (stored === undefined) return this.violation(`${what}, but log object "${key}" is not in the bucket`);
      if (sequence <= process.lastSequenceAtOpen) continue;
      for (const checkedKey of [key, formatZeroRangesKey(sequence)]) {
        const sent = process.store.bodiesPut.get(checkedKey);
        const inBucket = bucket.peek(checkedKey);
        if (sent === undefined && inBucket === undefined) continue;
        if (sent === undefined) return this.violation(`${what}, but "${checkedKey}" in the bucket was not sent by it`);
        if (inBucket === undefined) return this.violation(`${what}, but "${checkedKey}" is not in the bucket`);
        if (Buffer.compare(sent, inBucket.bytes) !== 0) return this.violation(`${what}, but "${checkedKey}" in the bucket holds other bytes than it sent (from process ${inBucket.processId})`);
      }
    }
    process.auditedThroughSequence = Math.max(process.auditedThroughSequence, targetSequence);
  }

  /** Every new consistent point (the bucket's gap-free prefix grew) must be a state the model allows. */
  onBucketChanged(): void {
    const { prefix, model } = this.#options;
    const touched = new Set<number>();
    let grown: number;
    try {
      grown = prefix.advance(touched);
    } catch (error) {
      return this.violation(`log object ${prefix.lastSequence + 1} in the bucket cannot be replayed: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (grown === 0 || this.prefixChecksSuspended) return;
    // Units no mutation touched must still hold their base value; the others are checked together.
    const untouched = [...touched].filter((unit) => !model.hasHistory(unit));
    const problem = model.checkImage(prefix.state, { durable: false, units: untouched }) ?? model.checkImage(prefix.state, { durable: false, units: model.touchedUnits() });
    if (problem !== undefined) this.violation(`the bucket's objects 1..${prefix.lastSequence} are not a consistent point: ${problem}`);
  }

  watchBuffer(buffer: Uint8Array, what: string): void {
    this.#watched.push({ buffer, snapshot: buffer.slice(), what });
    if (this.#watched.length > WATCHED_BUFFERS_MAX) this.checkWatchedBuffers({ count: this.#watched.length - WATCHED_BUFFERS_MAX });
  }

  /**
   * Checks (and stops watching) the oldest `count` buffers, or all of them. A buffer is
   * checked when it leaves the window, long after its read settled, so a late write into
   * it has had every chance to happen.
   */
  checkWatchedBuffers(options: { all: true } | { count: number }): void {
    const count = 'all' in options ? this.#watched.length : options.count;
    for (const watched of this.#watched.splice(0, count)) this.#checkBuffer(watched);
  }

  #checkBuffer(watched: { buffer: Uint8Array; snapshot: Uint8Array; what: string }): void {
    if (Buffer.compare(watched.buffer, watched.snapshot) !== 0) this.violation(`the engine wrote into ${watched.what} after its promise settled`);
  }
}
