/** Building buckets by hand for recovery tests, with the production encoders. */
import { formatLogKey, formatZeroRangesKey, VOLUME_DESCRIPTOR_KEY } from '../../logformat/keys.js';
import { HEADER_SIZE_BYTES } from '../../logformat/limits.js';
import { encodeLogHeader, encodeLogObject, type LogEntry } from '../../logformat/log-object.js';
import { encodeVolumeDescriptor } from '../../logformat/volume-descriptor.js';
import { encodeZeroRanges, type ZeroRange } from '../../logformat/zero-ranges.js';
import type { MemoryStore } from '../../store/memory-store.js';
import { StoreError } from '../../store/errors.js';
import type { GetOptions, ListOptions, ObjectInfo, ObjectStore, PutOptions } from '../../store/object-store.js';

export const VOLUME_SIZE_BYTES = 64 * 1024 * 1024;

export async function putDescriptor(store: ObjectStore, sizeBytes = VOLUME_SIZE_BYTES): Promise<void> {
  await store.put(VOLUME_DESCRIPTOR_KEY, encodeVolumeDescriptor({ formatVersion: 1, volumeId: 'test-volume', sizeBytes, sectorSizeBytes: 4096, createdAt: '2025-01-01T00:00:00.000Z' }));
}

/** Log object `sequence` with one 4 KiB entry per address, each filled with `fill`. */
export async function putLogObject(store: ObjectStore, options: { sequence: number; addressesBytes: number[]; fill?: number; zeroRanges?: ZeroRange[] }): Promise<void> {
  if (options.zeroRanges !== undefined) await store.put(formatZeroRangesKey(options.sequence), encodeZeroRanges(options.zeroRanges));
  const entries = options.addressesBytes.map((addressBytes) => ({ addressBytes, data: new Uint8Array(4096).fill(options.fill ?? options.sequence) }));
  await store.put(formatLogKey(options.sequence), encodeLogObject(entries));
}

export function keysOf(store: MemoryStore): string[] {
  return [...store.snapshot().keys()];
}

/**
 * A read-only store of `objectCount` synthetic log objects (one 4 KiB entry each) that
 * answers every GET after `latencyMs`, generating bytes on demand, and records how many GETs
 * ran at once. Lets a test recover 10,000 objects without holding 160 MiB.
 */
export class SyntheticLogStore implements ObjectStore {
  readonly description = 'synthetic://';
  readonly objectCount: number;
  readonly latencyMs: number;
  getCount = 0;
  concurrentGetsMax = 0;
  #concurrentGets = 0;

  constructor(options: { objectCount: number; latencyMs: number }) {
    this.objectCount = options.objectCount;
    this.latencyMs = options.latencyMs;
  }

  static entriesOf(sequence: number): LogEntry[] {
    return [{ addressBytes: ((sequence * 7) % 1000) * 4096, sizeBytes: 4096 }];
  }

  async *list(_options?: ListOptions): AsyncIterable<ObjectInfo> {
    for (let sequence = 1; sequence <= this.objectCount; sequence++) yield { key: formatLogKey(sequence), sizeBytes: HEADER_SIZE_BYTES + 4096 };
  }

  async get(key: string, options?: GetOptions): Promise<Uint8Array> {
    this.getCount++;
    this.#concurrentGets++;
    this.concurrentGetsMax = Math.max(this.concurrentGetsMax, this.#concurrentGets);
    await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
    this.#concurrentGets--;
    if (options?.range?.offsetBytes !== 0 || options.range.lengthBytes !== HEADER_SIZE_BYTES) throw new StoreError('ERR_STORE_FAILED', 'only header GETs are expected');
    return encodeLogHeader(SyntheticLogStore.entriesOf(parseInt(key, 16)));
  }

  async put(_key: string, _body: Uint8Array, _options?: PutOptions): Promise<void> {
    throw new StoreError('ERR_STORE_ACCESS_DENIED', 'read-only');
  }

  async head(key: string): Promise<ObjectInfo> {
    return { key, sizeBytes: HEADER_SIZE_BYTES + 4096 };
  }

  async delete(_key: string): Promise<void> {
    throw new StoreError('ERR_STORE_ACCESS_DENIED', 'read-only');
  }

  async close(): Promise<void> {}
}
