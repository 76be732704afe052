/**
 * An ObjectStore in memory, for tests and the simulator.
 *
 * It holds copies and hands out copies, so no caller can change a stored object by mutating
 * a buffer. `close()` keeps the contents: a test can stop a daemon and open another on the
 * same store, as if it had restarted against the same bucket. With `enforceCreateOnly: false`
 * it models an S3 clone that accepts and ignores `If-None-Match: *`.
 */
import assert from 'node:assert/strict';
import { StoreError } from './errors.js';
import { compareKeys, validateKey } from './keys.js';
import type { GetOptions, ListOptions, ObjectInfo, ObjectStore, PutOptions } from './object-store.js';
import { assertValidRange, ownedCopy, resolveRange } from './ranges.js';

export interface MemoryStoreOptions {
  /** Refuse a createOnly put of an existing key, as S3 does. Default true. */
  enforceCreateOnly?: boolean;
}

export class MemoryStore implements ObjectStore {
  readonly description = 'memory://';
  readonly #enforceCreateOnly: boolean;
  readonly #objects = new Map<string, Uint8Array>();
  /** The keys of #objects in compareKeys order, so list can resume after any key. */
  readonly #sortedKeys: string[] = [];

  constructor(options: MemoryStoreOptions = {}) {
    this.#enforceCreateOnly = options.enforceCreateOnly ?? true;
  }

  async put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<void> {
    validateKey(key);
    const exists = this.#objects.has(key);
    if (exists && options.createOnly === true && this.#enforceCreateOnly) {
      throw new StoreError('ERR_STORE_PRECONDITION_FAILED', `Object ${JSON.stringify(key)} already exists in ${this.description}`, { key });
    }
    if (!exists) this.#sortedKeys.splice(this.#firstIndex(key, { inclusive: false }), 0, key);
    this.#objects.set(key, ownedCopy(body));
  }

  async get(key: string, options: GetOptions = {}): Promise<Uint8Array> {
    if (options.range !== undefined) assertValidRange(options.range);
    const stored = this.#require(key);
    const { startBytes, endBytes } = resolveRange(options.range, stored.byteLength);
    return ownedCopy(stored.subarray(startBytes, endBytes));
  }

  async head(key: string): Promise<ObjectInfo> {
    return { key, sizeBytes: this.#require(key).byteLength };
  }

  /** Live, like S3 pagination: keys put or deleted while listing may or may not be seen. */
  async *list(options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    const prefix = options.prefix ?? '';
    // Keys with a prefix are contiguous in byte order, starting at the first key >= prefix.
    let index = this.#firstIndex(prefix, { inclusive: true });
    if (options.startAfter !== undefined) index = Math.max(index, this.#firstIndex(options.startAfter, { inclusive: false }));
    for (;;) {
      const key = this.#sortedKeys[index];
      if (key === undefined || !key.startsWith(prefix)) return;
      const stored = this.#objects.get(key);
      if (stored !== undefined) yield { key, sizeBytes: stored.byteLength };
      // Search again: the caller may have put or deleted keys while this generator was suspended.
      index = this.#firstIndex(key, { inclusive: false });
    }
  }

  async delete(key: string): Promise<void> {
    validateKey(key);
    if (!this.#objects.delete(key)) return;
    const index = this.#firstIndex(key, { inclusive: true });
    assert.equal(this.#sortedKeys[index], key);
    this.#sortedKeys.splice(index, 1);
  }

  /** Nothing to release; the contents stay readable (see the class comment). */
  async close(): Promise<void> {}

  /** Test helper: every key, in list order. */
  keys(): string[] {
    return [...this.#sortedKeys];
  }

  /** Test helper: a copy of the object's bytes, or undefined when the key is missing. */
  peek(key: string): Uint8Array | undefined {
    const stored = this.#objects.get(key);
    return stored === undefined ? undefined : ownedCopy(stored);
  }

  /** Test helper: a copy of every object, in list order. */
  snapshot(): Map<string, Uint8Array> {
    return new Map(this.#sortedKeys.map((key) => [key, ownedCopy(this.#objects.get(key) ?? new Uint8Array(0))]));
  }

  #require(key: string): Uint8Array {
    validateKey(key);
    const stored = this.#objects.get(key);
    if (stored === undefined) {
      throw new StoreError('ERR_STORE_NOT_FOUND', `No object ${JSON.stringify(key)} in ${this.description}`, { key });
    }
    return stored;
  }

  /** The index of the first key in #sortedKeys greater than `key` (or equal, when inclusive): a binary search. */
  #firstIndex(key: string, options: { inclusive: boolean }): number {
    let low = 0;
    let high = this.#sortedKeys.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const order = compareKeys(this.#sortedKeys[middle] ?? '', key);
      if (order < 0 || (order === 0 && !options.inclusive)) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
