/**
 * Uploads sealed log objects (DESIGN.md §3, write steps 4 and 5; §6).
 *
 * Up to uploadsInFlightMax objects upload at once (p-queue), every one create-only
 * (`If-None-Match: *`). A failed put retries with exponential backoff and jitter for as long
 * as the volume lives: acknowledged data is never dropped. A 412 on a create-only put is
 * either our own earlier attempt that landed while its acknowledgement was lost, or another
 * writer: the uploader GETs the key and compares bytes. Identical means success; different
 * means another daemon writes this volume, and the volume is fenced at once.
 *
 * FLUSH needs every lower sequence uploaded too (recovery replays only a gap-free prefix), so
 * the uploader tracks `uploadedThroughSequence`: the highest n with 1..n all in the store.
 */
import assert from 'node:assert/strict';
import PQueue from 'p-queue';
import type { Logger } from 'pino';
import { formatLogKey, formatZeroRangesKey } from '../logformat/keys.js';
import { describeError, isNotFound, isPreconditionFailed } from '../recovery/store-errors.js';
import type { ObjectStore } from '../store/object-store.js';
import { backoffDelayMs, CancellableSleeper, SleepCancelledError } from './backoff.js';
import type { Clock, Random } from './clock.js';
import { VolumeError } from './errors.js';

export interface SealedObject {
  sequence: number;
  /** Header and data, exactly as stored under the log key. */
  objectBytes: Uint8Array;
  /** The `zeros/<seq>` companion, put before the log object; absent when it has no zero ranges. */
  zeroRangesBytes: Uint8Array | undefined;
}

export interface UploaderOptions {
  store: ObjectStore;
  clock: Clock;
  random: Random;
  logger: Logger;
  uploadsInFlightMax: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  /** Objects 1..this are already in the store (what recovery replayed). */
  uploadedThroughSequence: number;
  /** Called once per object, when it and its companion are in the store. */
  onUploaded(object: SealedObject): void;
  /** Called once, when another writer is detected. */
  onFenced(error: VolumeError): void;
}

interface Waiter {
  sequence: number;
  resolve(): void;
  reject(error: Error): void;
}

/** Attempts between repeated warnings about one failing put, so an outage does not flood the log. */
const RETRY_WARNING_EVERY_ATTEMPTS = 10;

export class Uploader {
  readonly #options: UploaderOptions;
  readonly #queue: PQueue;
  readonly #sleeper: CancellableSleeper;
  /** Uploaded sequences above uploadedThroughSequence, waiting for the gap below to close. */
  readonly #uploadedAbove = new Set<number>();
  #uploadedThroughSequence: number;
  #lastEnqueuedSequence: number;
  #waiters: Waiter[] = [];
  #stopError: Error | undefined;
  #retryCount = 0;

  constructor(options: UploaderOptions) {
    this.#options = options;
    this.#queue = new PQueue({ concurrency: options.uploadsInFlightMax });
    this.#sleeper = new CancellableSleeper(options.clock);
    this.#uploadedThroughSequence = options.uploadedThroughSequence;
    this.#lastEnqueuedSequence = options.uploadedThroughSequence;
  }

  get uploadedThroughSequence(): number {
    return this.#uploadedThroughSequence;
  }

  get pendingCount(): number {
    return this.#queue.size + this.#queue.pending;
  }

  get retryCount(): number {
    return this.#retryCount;
  }

  /** Objects are enqueued in sequence order, each exactly once. */
  enqueue(object: SealedObject): void {
    assert.equal(object.sequence, this.#lastEnqueuedSequence + 1, 'objects are enqueued in sequence order');
    this.#lastEnqueuedSequence = object.sequence;
    if (this.#stopError !== undefined) return;
    void this.#queue.add(() => this.#upload(object)).catch((error: unknown) => {
      if (!(error instanceof SleepCancelledError) && this.#stopError === undefined) throw error;
    });
  }

  /** Resolves once objects 1..sequence are all in the store. */
  waitForUploaded(sequence: number): Promise<void> {
    if (this.#stopError !== undefined) return Promise.reject(this.#stopError);
    if (sequence <= this.#uploadedThroughSequence) return Promise.resolve();
    assert(sequence <= this.#lastEnqueuedSequence, 'only enqueued objects can be waited for');
    return new Promise((resolve, reject) => this.#waiters.push({ sequence, resolve, reject }));
  }

  /** Starts no new store request; waiting flushes fail with `error`. */
  stop(error: Error): void {
    if (this.#stopError !== undefined) return;
    this.#stopError = error;
    // Queued uploads are not cleared (p-queue would leave their promises pending): each one
    // checks the stop error before its first store request and ends at once.
    this.#sleeper.cancelAll();
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.reject(error);
  }

  async #upload(object: SealedObject): Promise<void> {
    if (object.zeroRangesBytes !== undefined) {
      await this.#putCreateOnly(formatZeroRangesKey(object.sequence), object.zeroRangesBytes);
    }
    await this.#putCreateOnly(formatLogKey(object.sequence), object.objectBytes);
    if (this.#stopError !== undefined) return;
    this.#markUploaded(object);
  }

  async #putCreateOnly(key: string, body: Uint8Array): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      this.#throwIfStopped();
      let failure: unknown;
      try {
        await this.#options.store.put(key, body, { createOnly: true });
        return;
      } catch (error) {
        failure = error;
      }
      this.#throwIfStopped();
      if (isPreconditionFailed(failure) && (await this.#landedEarlier(key, body))) return;
      this.#retryCount++;
      const delayMs = backoffDelayMs({ attempt, baseDelayMs: this.#options.retryBaseDelayMs, maxDelayMs: this.#options.retryMaxDelayMs, random: this.#options.random });
      if (attempt % RETRY_WARNING_EVERY_ATTEMPTS === 0) {
        this.#options.logger.warn({ key, attempt: attempt + 1, delayMs, err: describeError(failure) }, `Upload of ${key} failed; retrying.`);
      }
      await this.#sleeper.sleep(delayMs);
    }
  }

  /**
   * After a 412: true when the stored object is byte-identical to ours (an earlier attempt of
   * ours landed), false when it could not be read (retry the put). Different bytes fence.
   */
  async #landedEarlier(key: string, body: Uint8Array): Promise<boolean> {
    let stored: Uint8Array;
    try {
      stored = await this.#options.store.get(key);
    } catch (error) {
      this.#throwIfStopped();
      if (!isNotFound(error)) this.#options.logger.warn({ key, err: describeError(error) }, `Could not read back ${key} after a conflicting create; retrying.`);
      return false;
    }
    this.#throwIfStopped();
    if (Buffer.compare(stored, body) === 0) {
      this.#options.logger.info({ key }, `${key} was already stored by an earlier attempt whose acknowledgement was lost.`);
      return true;
    }
    const error = new VolumeError(
      'ERR_VOLUME_FENCED',
      `Another writer created "${key}" in ${this.#options.store.description} with different contents: ` +
        'two daemons are writing this volume. This one stops acknowledging writes now.',
    );
    this.#options.onFenced(error);
    this.stop(error);
    throw error;
  }

  #markUploaded(object: SealedObject): void {
    this.#uploadedAbove.add(object.sequence);
    while (this.#uploadedAbove.delete(this.#uploadedThroughSequence + 1)) this.#uploadedThroughSequence++;
    this.#options.onUploaded(object);
    if (this.#waiters.length === 0) return;
    const waiting: Waiter[] = [];
    for (const waiter of this.#waiters) {
      if (waiter.sequence <= this.#uploadedThroughSequence) waiter.resolve();
      else waiting.push(waiter);
    }
    this.#waiters = waiting;
  }

  #throwIfStopped(): void {
    if (this.#stopError !== undefined) throw this.#stopError;
  }
}
