/**
 * Reads uploaded object data (DESIGN.md §3 "Read"): from the LRU cache, from a fetch already
 * in flight (a prefetch), or with ranged GETs at HEADER_SIZE_BYTES + objectSector * 4 KiB.
 * Neighbouring pieces of one object are coalesced into one GET; all GETs of a read run in
 * parallel under one limiter shared with prefetch (demand reads go first). A failed GET
 * retries with backoff until readRetryTimeoutMs has passed, then the read fails (EIO).
 */
import assert from 'node:assert/strict';
import PQueue from 'p-queue';
import type { Logger } from 'pino';
import { formatLogKey } from '../logformat/keys.js';
import { HEADER_SIZE_BYTES, SECTOR_SIZE_BYTES } from '../logformat/limits.js';
import { describeError, isRetryable } from '../recovery/store-errors.js';
import type { ObjectStore } from '../store/object-store.js';
import { backoffDelayMs, CancellableSleeper } from './backoff.js';
import type { Clock, Random } from './clock.js';
import { VolumeError } from './errors.js';
import type { ReadCache } from './read-cache.js';

/** Sectors of one uploaded object that a read needs, and where they go in the read's buffer. */
export interface StorePiece {
  sequence: number;
  objectSector: number;
  lengthSectors: number;
  targetOffsetBytes: number;
}

export interface StoreReaderOptions {
  store: ObjectStore;
  clock: Clock;
  random: Random;
  logger: Logger;
  cache: ReadCache;
  readsInFlightMax: number;
  readRetryTimeoutMs: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
}

/** Pieces of one object this close together are fetched in one GET, gap included. */
export const READ_COALESCE_GAP_SECTORS = 16;

/** Read retries log one warning per this interval at most. */
export const READ_WARNING_INTERVAL_MS = 5000;
/**
 * A single GET asks for at most this much (1 MiB), so a large read or a prefetch window is
 * fetched by many requests in parallel: at 50 ms of store latency, throughput comes from
 * the number of requests in flight, not from their size.
 */
export const READ_REQUEST_MAX_SECTORS = 256;

const PRIORITY_DEMAND = 1;
const PRIORITY_PREFETCH = 0;

interface Fetch {
  sequence: number;
  firstSector: number;
  endSector: number;
  done: Promise<Uint8Array>;
}

export class StoreReader {
  readonly #options: StoreReaderOptions;
  readonly #queue: PQueue;
  readonly #sleeper: CancellableSleeper;
  readonly #inFlight = new Set<Fetch>();
  #getCount = 0;
  #stopError: Error | undefined;
  #lastReadWarningMs: number | undefined;
  #readRetriesSinceWarning = 0;

  constructor(options: StoreReaderOptions) {
    this.#options = options;
    this.#queue = new PQueue({ concurrency: options.readsInFlightMax });
    this.#sleeper = new CancellableSleeper(options.clock);
  }

  get getCount(): number {
    return this.#getCount;
  }

  get inFlightCount(): number {
    return this.#inFlight.size;
  }

  /** Fills every piece's sectors into `target`. */
  async read(pieces: readonly StorePiece[], target: Uint8Array): Promise<void> {
    const missing = this.#copyCached(pieces, target);
    const waits: Promise<void>[] = [];
    const toFetch: StorePiece[] = [];
    for (const { piece, fetch } of missing.flatMap((piece) => this.#splitByInFlight(piece))) {
      if (fetch === undefined) toFetch.push(piece);
      else waits.push(fetch.done.then((bytes) => copyFromFetch({ fetch, bytes, piece, target })));
    }
    for (const request of coalesce(toFetch)) {
      const fetch = this.#startFetch({ ...request, priority: PRIORITY_DEMAND });
      waits.push(fetch.done.then((bytes) => request.pieces.forEach((piece) => copyFromFetch({ fetch, bytes, piece, target }))));
    }
    // Wait for every copy before failing: once this settles, nothing may write into `target`
    // (the NBD server reuses the buffer of a readInto).
    const outcomes = await Promise.allSettled(waits);
    for (const outcome of outcomes) if (outcome.status === 'rejected') throw outcome.reason;
  }

  /** Brings sectors into the cache ahead of a sequential reader; failures are only logged. */
  prefetch(pieces: readonly StorePiece[]): void {
    if (this.#stopError !== undefined || this.#options.cache.capacityBytes === 0) return;
    const { cache } = this.#options;
    for (const request of coalesce(pieces)) {
      const { sequence, firstSector, endSector } = request;
      if (cache.has(sequence, firstSector) && cache.has(sequence, endSector - 1)) continue;
      if (this.#inFlightCovering({ sequence, objectSector: firstSector, lengthSectors: endSector - firstSector, targetOffsetBytes: 0 }) !== undefined) continue;
      const fetch = this.#startFetch({ sequence, firstSector, endSector, priority: PRIORITY_PREFETCH });
      fetch.done.catch((error: unknown) => {
        this.#options.logger.debug({ sequence, err: describeError(error) }, 'Prefetch failed.');
      });
    }
  }

  /** Starts no new GET; reads waiting on a retry fail. */
  stop(error: Error): void {
    this.#stopError = error;
    this.#sleeper.cancelAll();
  }

  /** Queued GETs run through here, so none starts after stop() (p-queue's clear() would leave their promises pending forever). */
  #get(key: string, range: { offsetBytes: number; lengthBytes: number }): Promise<Uint8Array> {
    if (this.#stopError !== undefined) return Promise.reject(this.#stopError);
    return this.#options.store.get(key, { range });
  }

  /** Returns the pieces (split at cache hits) that the cache could not supply. */
  #copyCached(pieces: readonly StorePiece[], target: Uint8Array): StorePiece[] {
    const missing: StorePiece[] = [];
    const { cache } = this.#options;
    for (const piece of pieces) {
      for (let index = 0; index < piece.lengthSectors; index++) {
        const objectSector = piece.objectSector + index;
        const targetOffsetBytes = piece.targetOffsetBytes + index * SECTOR_SIZE_BYTES;
        if (cache.copyInto({ sequence: piece.sequence, objectSector, target, targetOffsetBytes })) continue;
        const last = missing.at(-1);
        if (last !== undefined && last.sequence === piece.sequence && last.objectSector + last.lengthSectors === objectSector && last.targetOffsetBytes + last.lengthSectors * SECTOR_SIZE_BYTES === targetOffsetBytes) {
          last.lengthSectors++;
        } else {
          missing.push({ sequence: piece.sequence, objectSector, lengthSectors: 1, targetOffsetBytes });
        }
      }
    }
    return missing;
  }

  /** Cuts a piece into parts that fetches in flight (prefetch) will supply and parts still to fetch. */
  #splitByInFlight(piece: StorePiece): { piece: StorePiece; fetch: Fetch | undefined }[] {
    if (this.#inFlight.size === 0) return [{ piece, fetch: undefined }];
    const parts: { piece: StorePiece; fetch: Fetch | undefined }[] = [];
    const endSector = piece.objectSector + piece.lengthSectors;
    for (let sector = piece.objectSector; sector < endSector; ) {
      let covering: Fetch | undefined;
      let nextStart = endSector;
      for (const fetch of this.#inFlight) {
        if (fetch.sequence !== piece.sequence) continue;
        if (fetch.firstSector <= sector && sector < fetch.endSector) covering = fetch;
        else if (fetch.firstSector > sector) nextStart = Math.min(nextStart, fetch.firstSector);
      }
      const partEnd = covering === undefined ? nextStart : Math.min(covering.endSector, endSector);
      const targetOffsetBytes = piece.targetOffsetBytes + (sector - piece.objectSector) * SECTOR_SIZE_BYTES;
      parts.push({ piece: { sequence: piece.sequence, objectSector: sector, lengthSectors: partEnd - sector, targetOffsetBytes }, fetch: covering });
      sector = partEnd;
    }
    return parts;
  }

  #inFlightCovering(piece: StorePiece): Fetch | undefined {
    for (const fetch of this.#inFlight) {
      if (fetch.sequence === piece.sequence && fetch.firstSector <= piece.objectSector && piece.objectSector + piece.lengthSectors <= fetch.endSector) return fetch;
    }
    return undefined;
  }

  #startFetch(request: { sequence: number; firstSector: number; endSector: number; priority: number }): Fetch {
    const fetch: Fetch = { sequence: request.sequence, firstSector: request.firstSector, endSector: request.endSector, done: Promise.resolve(new Uint8Array()) };
    fetch.done = this.#getWithRetry(request).then(
      (bytes) => {
        this.#inFlight.delete(fetch);
        this.#options.cache.insert({ sequence: request.sequence, firstObjectSector: request.firstSector, data: bytes });
        return bytes;
      },
      (error: unknown) => {
        this.#inFlight.delete(fetch);
        throw error;
      },
    );
    this.#inFlight.add(fetch);
    return fetch;
  }

  async #getWithRetry(request: { sequence: number; firstSector: number; endSector: number; priority: number }): Promise<Uint8Array> {
    const key = formatLogKey(request.sequence);
    const lengthBytes = (request.endSector - request.firstSector) * SECTOR_SIZE_BYTES;
    const range = { offsetBytes: HEADER_SIZE_BYTES + request.firstSector * SECTOR_SIZE_BYTES, lengthBytes };
    const startMs = this.#options.clock.nowMs();
    for (let attempt = 0; ; attempt++) {
      if (this.#stopError !== undefined) throw this.#stopError;
      let failure: unknown;
      try {
        const bytes = await this.#queue.add(() => this.#get(key, range), { priority: request.priority });
        this.#getCount++;
        if (bytes.length === lengthBytes) return bytes;
        // The map says these bytes exist: a short object is corrupt, and retrying cannot help.
        throw new VolumeError('ERR_VOLUME_READ_FAILED', `Log object "${key}" in ${this.#options.store.description} is shorter than its header says: asked for ${lengthBytes} bytes at ${range.offsetBytes}, got ${bytes.length}`);
      } catch (error) {
        if (error instanceof VolumeError || error === this.#stopError) throw error;
        failure = error;
      }
      if (this.#stopError !== undefined) throw this.#stopError;
      const delayMs = backoffDelayMs({ attempt, baseDelayMs: this.#options.retryBaseDelayMs, maxDelayMs: this.#options.retryMaxDelayMs, random: this.#options.random });
      const elapsedMs = this.#options.clock.nowMs() - startMs;
      if (!isRetryable(failure) || elapsedMs + delayMs > this.#options.readRetryTimeoutMs) {
        throw new VolumeError('ERR_VOLUME_READ_FAILED', `Cannot read log object "${key}" from ${this.#options.store.description} after ${attempt + 1} attempts in ${elapsedMs} ms: ${describeError(failure)}`, { cause: failure });
      }
      this.#warnReadRetry({ key, attempt: attempt + 1, delayMs, err: describeError(failure) });
      await this.#sleeper.sleep(delayMs);
    }
  }

  /**
   * During an outage every waiting read retries: one warning per READ_WARNING_INTERVAL_MS says
   * so, with how many retries it stands for, instead of a line per read per attempt.
   */
  #warnReadRetry(details: { key: string; attempt: number; delayMs: number; err: string }): void {
    const nowMs = this.#options.clock.nowMs();
    if (this.#lastReadWarningMs !== undefined && nowMs - this.#lastReadWarningMs < READ_WARNING_INTERVAL_MS) {
      this.#readRetriesSinceWarning++;
      return;
    }
    this.#options.logger.warn({ ...details, otherRetriesSinceLastWarning: this.#readRetriesSinceWarning }, `Read of ${details.key} failed; retrying.`);
    this.#lastReadWarningMs = nowMs;
    this.#readRetriesSinceWarning = 0;
  }
}

interface CoalescedRequest {
  sequence: number;
  firstSector: number;
  endSector: number;
  pieces: StorePiece[];
}

/** Groups pieces by object and merges those within READ_COALESCE_GAP_SECTORS of each other. */
export function coalesce(pieces: readonly StorePiece[]): CoalescedRequest[] {
  const sorted = pieces.flatMap(splitPiece).sort((left, right) => left.sequence - right.sequence || left.objectSector - right.objectSector);
  const requests: CoalescedRequest[] = [];
  for (const piece of sorted) {
    const last = requests.at(-1);
    const pieceEnd = piece.objectSector + piece.lengthSectors;
    const joins = last !== undefined && last.sequence === piece.sequence && piece.objectSector <= last.endSector + READ_COALESCE_GAP_SECTORS;
    if (joins && Math.max(last.endSector, pieceEnd) - last.firstSector <= READ_REQUEST_MAX_SECTORS) {
      last.endSector = Math.max(last.endSector, pieceEnd);
      last.pieces.push(piece);
    } else {
      requests.push({ sequence: piece.sequence, firstSector: piece.objectSector, endSector: pieceEnd, pieces: [piece] });
    }
  }
  return requests;
}

/** Pieces longer than one request are cut so their GETs run in parallel. */
function splitPiece(piece: StorePiece): StorePiece[] {
  const parts: StorePiece[] = [];
  for (let offset = 0; offset < piece.lengthSectors; offset += READ_REQUEST_MAX_SECTORS) {
    parts.push({
      sequence: piece.sequence,
      objectSector: piece.objectSector + offset,
      lengthSectors: Math.min(READ_REQUEST_MAX_SECTORS, piece.lengthSectors - offset),
      targetOffsetBytes: piece.targetOffsetBytes + offset * SECTOR_SIZE_BYTES,
    });
  }
  return parts;
}

function copyFromFetch(options: { fetch: Fetch; bytes: Uint8Array; piece: StorePiece; target: Uint8Array }): void {
  const { fetch, bytes, piece, target } = options;
  assert(piece.objectSector >= fetch.firstSector && piece.objectSector + piece.lengthSectors <= fetch.endSector);
  const sourceOffsetBytes = (piece.objectSector - fetch.firstSector) * SECTOR_SIZE_BYTES;
  target.set(bytes.subarray(sourceOffsetBytes, sourceOffsetBytes + piece.lengthSectors * SECTOR_SIZE_BYTES), piece.targetOffsetBytes);
}
