/**
 * Deliberately broken engines, built from the outside (prototype patches and store wrappers
 * that live only for one simulated run), to show the simulator catches each bug class:
 *
 * - `flush-ignores-lower-objects`: FLUSH/FUA answer once their own object is stored, even
 *   while a lower object is still uploading (DESIGN.md §3: every lower object must be too).
 * - `precondition-means-success`: a 412 on a create-only PUT of a log object or companion is
 *   taken as "our earlier attempt landed", without reading the object back to compare.
 * - `zero-ranges-after-entries`: recovery applies an object's zero ranges after its entries
 *   instead of before (DESIGN.md §3, docs/ENGINE.md "Zero ranges").
 * - `overwriting-puts`: log objects are put without If-None-Match, so a second writer's
 *   object is silently replaced.
 * - `holes-left-unwritten`: a read into a reused buffer leaves the bytes of holes as they
 *   were (the engine had this bug until reads started writing zeros over holes).
 */
import { ExtentMap, type SetOptions } from '../../daemon/extent-map.js';
import { LogWriter } from '../../daemon/log-writer.js';
import { VolumeReads } from '../../daemon/volume-reads.js';
import { SECTOR_SIZE_BYTES } from '../../logformat/limits.js';
import { type SealedObject, Uploader } from '../../daemon/uploader.js';
import { classifyKey } from '../../logformat/keys.js';
import { isPreconditionFailed } from '../../recovery/store-errors.js';
import type { GetOptions, ListOptions, ObjectInfo, ObjectStore, PutOptions } from '../../store/object-store.js';

export interface EngineVariant {
  readonly name: string;
  readonly description: string;
  /** Patches the engine for one run; returns the undo. */
  install(): () => void;
  /** Wraps the store a daemon process hands to the engine. */
  wrapStore?(store: ObjectStore): ObjectStore;
}

/** Every method of `target` named in `names` restored by the returned function. */
function saving<T extends object>(target: T, names: readonly (keyof T)[]): () => void {
  const saved = names.map((name) => [name, target[name]] as const);
  return () => {
    for (const [name, value] of saved) target[name] = value;
  };
}

const flushIgnoresLowerObjects: EngineVariant = {
  name: 'flush-ignores-lower-objects',
  description: 'FLUSH answers when its own object is stored, not every lower one',
  install() {
    const restoreWriter = saving(LogWriter.prototype, ['release']);
    const restoreUploader = saving(Uploader.prototype, ['waitForUploaded']);
    const originalRelease = LogWriter.prototype.release;
    const originalWait = Uploader.prototype.waitForUploaded;
    const stored = new Set<number>();
    const waiting = new Map<number, (() => void)[]>();
    LogWriter.prototype.release = function (this: LogWriter, object: SealedObject): void {
      originalRelease.call(this, object);
      stored.add(object.sequence);
      for (const wake of waiting.get(object.sequence) ?? []) wake();
      waiting.delete(object.sequence);
    };
    Uploader.prototype.waitForUploaded = function (this: Uploader, sequence: number): Promise<void> {
      const full = originalWait.call(this, sequence);
      if (stored.has(sequence)) return Promise.resolve();
      const own = new Promise<void>((resolve) => waiting.set(sequence, [...(waiting.get(sequence) ?? []), resolve]));
      return Promise.race([full, own]);
    };
    return () => {
      restoreWriter();
      restoreUploader();
    };
  },
};

/** Forwards everything; `put` goes through `put`. */
class WrappedStore implements ObjectStore {
  readonly inner: ObjectStore;
  readonly #put: (key: string, body: Uint8Array, options?: PutOptions) => Promise<void>;

  constructor(inner: ObjectStore, put: (key: string, body: Uint8Array, options?: PutOptions) => Promise<void>) {
    this.inner = inner;
    this.#put = put;
  }

  get description(): string {
    return this.inner.description;
  }

  put(key: string, body: Uint8Array, options?: PutOptions): Promise<void> {
    return this.#put(key, body, options);
  }

  get(key: string, options?: GetOptions): Promise<Uint8Array> {
    return this.inner.get(key, options);
  }

  head(key: string): Promise<ObjectInfo> {
    return this.inner.head(key);
  }

  list(options?: ListOptions): AsyncIterable<ObjectInfo> {
    return this.inner.list(options);
  }

  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

function isLogOrCompanion(key: string): boolean {
  const kind = classifyKey(key).kind;
  return kind === 'log' || kind === 'zero-ranges';
}

const preconditionMeansSuccess: EngineVariant = {
  name: 'precondition-means-success',
  description: 'a 412 on a create-only PUT of a log object counts as success, without comparing bytes',
  install: () => () => {},
  wrapStore: (store) =>
    new WrappedStore(store, async (key, body, options) => {
      try {
        await store.put(key, body, options);
      } catch (error) {
        if (!(isPreconditionFailed(error) && isLogOrCompanion(key))) throw error;
      }
    }),
};

const overwritingPuts: EngineVariant = {
  name: 'overwriting-puts',
  description: 'log objects are put without If-None-Match',
  install: () => () => {},
  wrapStore: (store) => new WrappedStore(store, (key, body, options) => store.put(key, body, isLogOrCompanion(key) ? {} : options)),
};

/**
 * Recovery's zero ranges (ExtentMap.clear outside the live write path) are held back and
 * applied after the entries of the same object (the next object's first change, or the
 * first lookup, releases them).
 */
const zeroRangesAfterEntries: EngineVariant = {
  name: 'zero-ranges-after-entries',
  description: 'recovery replays an object’s zero ranges after its entries',
  install() {
    const restoreMap = saving(ExtentMap.prototype, ['clear', 'set', 'lookup']);
    const restoreWriter = saving(LogWriter.prototype, ['apply', 'seal']);
    const original = { clear: ExtentMap.prototype.clear, set: ExtentMap.prototype.set, lookup: ExtentMap.prototype.lookup, apply: LogWriter.prototype.apply, seal: LogWriter.prototype.seal };
    const held = new WeakMap<ExtentMap, { clears: [number, number][]; sequence: number | undefined }>();
    let liveDepth = 0;
    const release = (map: ExtentMap) => {
      const pending = held.get(map);
      held.delete(map);
      for (const [volumeSector, lengthSectors] of pending?.clears ?? []) original.clear.call(map, volumeSector, lengthSectors);
    };
    ExtentMap.prototype.clear = function (this: ExtentMap, volumeSector: number, lengthSectors: number): void {
      if (liveDepth > 0) {
        release(this);
        original.clear.call(this, volumeSector, lengthSectors);
        return;
      }
      // A clear after the entries of an object starts the next object: release the held ones first.
      if (held.get(this)?.sequence !== undefined) release(this);
      const pending = held.get(this) ?? { clears: [], sequence: undefined };
      pending.clears.push([volumeSector, lengthSectors]);
      held.set(this, pending);
    };
    ExtentMap.prototype.set = function (this: ExtentMap, options: SetOptions): void {
      const pending = held.get(this);
      if (liveDepth > 0 || (pending?.sequence !== undefined && pending.sequence !== options.sequence)) release(this);
      else if (pending !== undefined) pending.sequence = options.sequence;
      original.set.call(this, options);
    };
    ExtentMap.prototype.lookup = function (this: ExtentMap, volumeSector: number, lengthSectors: number) {
      release(this);
      return original.lookup.call(this, volumeSector, lengthSectors);
    };
    const live = <A extends unknown[], R>(method: (this: LogWriter, ...args: A) => R) =>
      function (this: LogWriter, ...args: A): R {
        liveDepth++;
        try {
          return method.apply(this, args);
        } finally {
          liveDepth--;
        }
      };
    LogWriter.prototype.apply = live(original.apply);
    LogWriter.prototype.seal = live(original.seal);
    return () => {
      restoreMap();
      restoreWriter();
    };
  },
};

/**
 * After each read into a caller's buffer, sectors that came back all zeros (holes: the
 * simulator never writes a zero sector) get the bytes the buffer held before.
 */
const holesLeftUnwritten: EngineVariant = {
  name: 'holes-left-unwritten',
  description: 'a read into a reused buffer leaves the bytes of holes as they were',
  install() {
    const restore = saving(VolumeReads.prototype, ['readSectorsInto']);
    const original = VolumeReads.prototype.readSectorsInto;
    VolumeReads.prototype.readSectorsInto = function (this: VolumeReads, request: Parameters<VolumeReads['readSectorsInto']>[0]): Promise<void> {
      const lengthBytes = (request.endSector - request.firstSector) * SECTOR_SIZE_BYTES;
      const before = request.target.slice(request.targetOffsetBytes, request.targetOffsetBytes + lengthBytes);
      return original.call(this, request).then(() => {
        for (let offsetBytes = 0; offsetBytes < lengthBytes; offsetBytes += SECTOR_SIZE_BYTES) {
          const sector = request.target.subarray(request.targetOffsetBytes + offsetBytes, request.targetOffsetBytes + offsetBytes + SECTOR_SIZE_BYTES);
          if (sector.every((byte) => byte === 0)) sector.set(before.subarray(offsetBytes, offsetBytes + SECTOR_SIZE_BYTES));
        }
      });
    };
    return restore;
  },
};

export const ENGINE_VARIANTS: readonly EngineVariant[] = [flushIgnoresLowerObjects, preconditionMeansSuccess, zeroRangesAfterEntries, overwritingPuts, holesLeftUnwritten];

export function findVariant(name: string): EngineVariant {
  const variant = ENGINE_VARIANTS.find((candidate) => candidate.name === name);
  if (variant === undefined) throw new Error(`No engine variant "${name}"; known: ${ENGINE_VARIANTS.map((candidate) => candidate.name).join(', ')}`);
  return variant;
}
