/**
 * ObjectStore wrappers that let engine tests control what the bucket does: hold chosen puts
 * until released, fail puts, lose acknowledgements, add delays, count requests, and "crash"
 * (settle every pending put at once, landed or not, then refuse everything).
 */
import { StoreError } from '../../../store/errors.js';
import type { GetOptions, ListOptions, ObjectInfo, ObjectStore, PutOptions } from '../../../store/object-store.js';
import type { SeededRandom } from '../../../daemon/clock.js';

type KeyPredicate = (key: string) => boolean;

interface HeldPut {
  key: string;
  run: () => Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** Forwards to `inner`; puts matching a hold wait until released. */
export class ControlledStore implements ObjectStore {
  readonly inner: ObjectStore;
  readonly completedPuts: string[] = [];
  readonly gets: { key: string; offsetBytes?: number; lengthBytes?: number }[] = [];
  #holds: KeyPredicate[] = [];
  #held: HeldPut[] = [];
  #failures: { matches: KeyPredicate; remaining: number; error: () => Error; afterStoring: boolean }[] = [];
  getDelayMs = 0;
  putDelayMs = 0;
  /** GETs waiting on the store right now, and the most there ever were at once. */
  getsInFlight = 0;
  getsInFlightMax = 0;
  #getFailures = 0;

  constructor(inner: ObjectStore) {
    this.inner = inner;
  }

  get description(): string {
    return `controlled+${this.inner.description}`;
  }

  /** Puts matching `matches` wait; the returned function releases them and stops holding. */
  hold(matches: KeyPredicate): () => void {
    this.#holds.push(matches);
    return () => {
      this.#holds = this.#holds.filter((hold) => hold !== matches);
      const releasing = this.#held.filter((held) => matches(held.key));
      this.#held = this.#held.filter((held) => !matches(held.key));
      for (const held of releasing) held.run().then(held.resolve, held.reject);
    };
  }

  heldKeys(): string[] {
    return this.#held.map((held) => held.key);
  }

  /** The next `count` puts matching fail; with afterStoring, the object lands but the reply is lost. */
  failPuts(options: { matches: KeyPredicate; count: number; afterStoring?: boolean; error?: () => Error }): void {
    this.#failures.push({
      matches: options.matches,
      remaining: options.count,
      afterStoring: options.afterStoring ?? false,
      error: options.error ?? (() => new StoreError('ERR_STORE_UNAVAILABLE', 'injected put failure')),
    });
  }

  failGets(count: number): void {
    this.#getFailures = count;
  }

  async put(key: string, body: Uint8Array, options?: PutOptions): Promise<void> {
    if (this.putDelayMs > 0) await sleep(this.putDelayMs);
    const run = async (): Promise<void> => {
      const failure = this.#failures.find((candidate) => candidate.remaining > 0 && candidate.matches(key));
      if (failure !== undefined) {
        failure.remaining--;
        if (failure.afterStoring) await this.inner.put(key, body, options);
        throw failure.error();
      }
      await this.inner.put(key, body, options);
      this.completedPuts.push(key);
    };
    if (!this.#holds.some((hold) => hold(key))) return run();
    return new Promise((resolve, reject) => this.#held.push({ key, run, resolve, reject }));
  }

  async get(key: string, options?: GetOptions): Promise<Uint8Array> {
    const request: { key: string; offsetBytes?: number; lengthBytes?: number } = { key };
    if (options?.range !== undefined) {
      request.offsetBytes = options.range.offsetBytes;
      request.lengthBytes = options.range.lengthBytes;
    }
    this.gets.push(request);
    this.getsInFlight++;
    this.getsInFlightMax = Math.max(this.getsInFlightMax, this.getsInFlight);
    try {
      if (this.getDelayMs > 0) await sleep(this.getDelayMs);
      if (this.#getFailures > 0) {
        this.#getFailures--;
        throw new StoreError('ERR_STORE_UNAVAILABLE', 'injected get failure');
      }
      return await this.inner.get(key, options);
    } finally {
      this.getsInFlight--;
    }
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

  async close(): Promise<void> {}
}

export function sleep(delayMs: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, delayMs));
}

export interface ChaosOptions {
  inner: ObjectStore;
  random: SeededRandom;
  putDelayMaxMs: number;
  /** Probability a put fails without storing. */
  putFailureRate: number;
  /** Probability a put stores but its reply is lost (the engine sees a failure). */
  lostAckRate: number;
}

/**
 * Puts complete after random delays (so in random order), some fail, some land with their
 * reply lost. `crash()` settles every pending put now, each randomly landed or dropped, and
 * makes every later request of the crashed engine fail without touching the bucket.
 */
export class ChaosStore implements ObjectStore {
  readonly #options: ChaosOptions;
  readonly #pending = new Set<{ timer: NodeJS.Timeout; land: () => Promise<void>; fail: () => void }>();
  #crashed = false;

  constructor(options: ChaosOptions) {
    this.#options = options;
  }

  get description(): string {
    return 'chaos+memory://';
  }

  put(key: string, body: Uint8Array, options?: PutOptions): Promise<void> {
    this.#throwIfCrashed();
    const { random } = this.#options;
    const delayMs = random.nextInt(this.#options.putDelayMaxMs + 1);
    const roll = random.nextFloat();
    const copy = body.slice();
    return new Promise((resolve, reject) => {
      const land = () => this.#options.inner.put(key, copy, options);
      const entry = {
        land,
        fail: () => reject(new StoreError('ERR_STORE_UNAVAILABLE', 'the engine crashed')),
        timer: setTimeout(() => {
          this.#pending.delete(entry);
          if (roll < this.#options.putFailureRate) {
            reject(new StoreError('ERR_STORE_UNAVAILABLE', 'injected put failure'));
            return;
          }
          land().then(() => {
            if (roll < this.#options.putFailureRate + this.#options.lostAckRate) reject(new StoreError('ERR_STORE_UNAVAILABLE', 'injected lost acknowledgement'));
            else resolve();
          }, reject);
        }, delayMs),
      };
      this.#pending.add(entry);
    });
  }

  async get(key: string, options?: GetOptions): Promise<Uint8Array> {
    this.#throwIfCrashed();
    return this.#options.inner.get(key, options);
  }

  async head(key: string): Promise<ObjectInfo> {
    this.#throwIfCrashed();
    return this.#options.inner.head(key);
  }

  list(options?: ListOptions): AsyncIterable<ObjectInfo> {
    this.#throwIfCrashed();
    return this.#options.inner.list(options);
  }

  async delete(key: string): Promise<void> {
    this.#throwIfCrashed();
    await this.#options.inner.delete(key);
  }

  async close(): Promise<void> {}

  /** Every pending put lands or not (coin flip), now; nothing of this engine reaches the bucket later. */
  async crash(): Promise<void> {
    this.#crashed = true;
    const pending = [...this.#pending];
    this.#pending.clear();
    for (const entry of pending) {
      clearTimeout(entry.timer);
      if (this.#options.random.nextFloat() < 0.5) await entry.land().catch(() => {});
      entry.fail();
    }
  }

  #throwIfCrashed(): void {
    if (this.#crashed) throw new StoreError('ERR_STORE_UNAVAILABLE', 'the engine crashed');
  }
}
