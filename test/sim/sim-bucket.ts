/**
 * The simulated bucket: what is durably stored, shared by every simulated daemon process.
 * It enforces create-only (`If-None-Match: *`) as S3 does, and checks the bucket-level
 * invariants on every change (DESIGN.md §1 and §3):
 * - no log object, zero-range companion or archive copy is ever replaced with other bytes;
 * - no log object or companion is deleted unless an identical copy sits under `archive/`;
 * - `volume.json` and archive copies are never deleted.
 */
import { ARCHIVE_KEY_PREFIX, classifyKey } from '../../logformat/keys.js';
import { StoreError } from '../../store/errors.js';
import { compareKeys } from '../../store/keys.js';
import type { ObjectInfo } from '../../store/object-store.js';

export interface StoredObject {
  bytes: Uint8Array;
  /** The simulated process whose PUT landed it (0: the simulator itself). */
  processId: number;
  landedAtMs: number;
}

export type LandingOutcome = 'stored' | 'precondition-failed';

export interface BucketEvents {
  violation(message: string): void;
  landed(key: string, object: StoredObject): void;
}

export class SimBucket {
  readonly #objects = new Map<string, StoredObject>();
  /** Keys of #objects in list order. */
  readonly #sortedKeys: string[] = [];
  readonly #events: BucketEvents;
  putsLanded = 0;
  deletesLanded = 0;

  constructor(events: BucketEvents) {
    this.#events = events;
  }

  get keyCount(): number {
    return this.#sortedKeys.length;
  }

  peek(key: string): StoredObject | undefined {
    return this.#objects.get(key);
  }

  keys(): readonly string[] {
    return this.#sortedKeys;
  }

  /** Applies a PUT at the moment it lands. */
  land(options: { key: string; bytes: Uint8Array; createOnly: boolean; processId: number; nowMs: number }): LandingOutcome {
    const { key, bytes } = options;
    const existing = this.#objects.get(key);
    if (existing !== undefined && options.createOnly) return 'precondition-failed';
    if (existing !== undefined && isImmutable(key) && Buffer.compare(existing.bytes, bytes) !== 0) {
      this.#events.violation(`"${key}" was overwritten with different bytes (${existing.bytes.length} → ${bytes.length} bytes, by process ${options.processId} without If-None-Match)`);
    }
    if (existing === undefined) this.#sortedKeys.splice(this.#insertionIndex(key), 0, key);
    const stored: StoredObject = { bytes, processId: options.processId, landedAtMs: options.nowMs };
    this.#objects.set(key, stored);
    this.putsLanded++;
    this.#events.landed(key, stored);
    return 'stored';
  }

  /** Applies a DELETE at the moment it lands; deleting a missing key succeeds (as in S3). */
  remove(key: string): void {
    const existing = this.#objects.get(key);
    if (existing === undefined) return;
    const kind = classifyKey(key).kind;
    if (kind === 'log' || kind === 'zero-ranges') {
      if (!this.#hasArchivedCopy(key, existing.bytes)) this.#events.violation(`"${key}" was deleted without an identical copy under ${ARCHIVE_KEY_PREFIX}`);
    } else if (kind === 'archive' || kind === 'descriptor') {
      this.#events.violation(`"${key}" was deleted; lsvd never deletes it`);
    }
    this.#objects.delete(key);
    this.#sortedKeys.splice(this.#insertionIndex(key), 1);
    this.deletesLanded++;
  }

  /**
   * GET as S3 answers it: the (range of the) object, or ERR_STORE_NOT_FOUND. A view, not a
   * copy: an engine that wrote into what a GET returned would corrupt the bucket, and the
   * replay checks would report it.
   */
  read(key: string, range?: { offsetBytes: number; lengthBytes: number }): Uint8Array {
    const stored = this.#objects.get(key);
    if (stored === undefined) throw new StoreError('ERR_STORE_NOT_FOUND', `No object ${JSON.stringify(key)} in the simulated bucket`, { key });
    if (range === undefined) return stored.bytes.subarray();
    const startBytes = Math.min(range.offsetBytes, stored.bytes.length);
    return stored.bytes.subarray(startBytes, Math.min(range.offsetBytes + range.lengthBytes, stored.bytes.length));
  }

  /** One LIST page: up to `pageSize` keys after `startAfter` that start with `prefix`. */
  listPage(options: { prefix: string; startAfter: string | undefined; pageSize: number }): ObjectInfo[] {
    const page: ObjectInfo[] = [];
    let index = this.#insertionIndex(options.prefix);
    if (options.startAfter !== undefined) index = Math.max(index, this.#firstAfter(options.startAfter));
    for (; index < this.#sortedKeys.length && page.length < options.pageSize; index++) {
      const key = this.#sortedKeys[index] ?? '';
      if (!key.startsWith(options.prefix)) break;
      page.push({ key, sizeBytes: this.#objects.get(key)?.bytes.length ?? 0 });
    }
    return page;
  }

  #hasArchivedCopy(key: string, bytes: Uint8Array): boolean {
    for (const candidate of this.listPage({ prefix: ARCHIVE_KEY_PREFIX, startAfter: undefined, pageSize: Number.MAX_SAFE_INTEGER })) {
      if (!candidate.key.endsWith(`/${key}`)) continue;
      const copy = this.#objects.get(candidate.key);
      if (copy !== undefined && Buffer.compare(copy.bytes, bytes) === 0) return true;
    }
    return false;
  }

  /** Index of the first key >= `key`. */
  #insertionIndex(key: string): number {
    let low = 0;
    let high = this.#sortedKeys.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compareKeys(this.#sortedKeys[middle] ?? '', key) < 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  #firstAfter(key: string): number {
    const index = this.#insertionIndex(key);
    return this.#sortedKeys[index] === key ? index + 1 : index;
  }
}

/** Keys whose bytes must never change once stored. */
function isImmutable(key: string): boolean {
  const kind = classifyKey(key).kind;
  return kind === 'log' || kind === 'zero-ranges' || kind === 'archive';
}
