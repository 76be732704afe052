/**
 * One simulated daemon process's connection to the bucket: an ObjectStore whose every
 * request is an event on the simulated clock, with the latency and fate FaultPlanner picks.
 * Answers come back in any order. A PUT or DELETE lands at one moment and answers at
 * another, so an acknowledgement can be lost (landed, error seen) and a timed-out PUT can
 * land after the caller gave up.
 *
 * `crash()` is the process dying: every PUT or DELETE not yet landed lands now or never
 * (the seed decides), every pending answer becomes a connection error, and nothing this
 * process sends afterwards reaches the bucket. A request sent after `abandon()` is an
 * engine bug (ENGINE.md: abandon starts no new store request) and is reported.
 */
import type { SeededRandom } from '../../daemon/clock.js';
import { classifyKey } from '../../logformat/keys.js';
import { validateKey } from '../../store/keys.js';
import type { GetOptions, ListOptions, ObjectInfo, ObjectStore, PutOptions } from '../../store/object-store.js';
import type { FaultPlanner, RequestPlan } from './faults.js';
import type { SimBucket } from './sim-bucket.js';
import type { SimClock } from './sim-clock.js';
import { RequestScheduler, storeError, type Zombie } from './store-requests.js';

export type { Zombie } from './store-requests.js';

export interface SimStoreOptions {
  processId: number;
  bucket: SimBucket;
  clock: SimClock;
  planner: FaultPlanner;
  /** Decides the fate of unlanded changes at a crash. */
  random: SeededRandom;
  /** LIST pages hold at most this many keys (S3: 1,000; small here to exercise paging). */
  listPageSize: number;
  /**
   * Probability that a PUT of a log object or companion still unlanded at the crash
   * becomes a zombie: it lands later, just before the next process puts the same key.
   */
  zombieProbability: number;
  /** The zombies of the process that ran before this one, by key. */
  zombies: Map<string, Zombie>;
  /** A zombie landed: the bucket now holds another writer's object. */
  zombieLanded(key: string): void;
  violation(message: string): void;
  trace(message: string): void;
}

/** At a crash, a change still in flight lands (rather than never) with this probability. */
const CRASH_LANDS_PROBABILITY = 0.5;

export class SimStore implements ObjectStore {
  readonly description = 'sim://bucket/';
  /** The bytes this process sent for each key (one body per key, checked). */
  readonly bodiesPut = new Map<string, Uint8Array>();
  /** Keys where this process was refused (412) and the bucket holds other bytes than it sent. */
  readonly conflictingKeys = new Set<string>();
  requestCount = 0;
  /**
   * LIST pages answer without faults. Start-up fails on any failed LIST page (a finding,
   * docs/SIMULATION.md), so after many failed start-ups in a row the simulator calms LISTs
   * to let the run go on exploring.
   */
  listsCalm = false;
  /** Keys where a zombie of the previous process landed just before this one's PUT. */
  readonly zombieKeys = new Set<string>();
  readonly #options: SimStoreOptions;
  readonly #requests: RequestScheduler;
  #crashed = false;
  #abandoned = false;

  constructor(options: SimStoreOptions) {
    this.#options = options;
    this.#requests = new RequestScheduler({ clock: options.clock, trace: (message) => options.trace(`p${options.processId} ${message}`) });
  }

  get pendingCount(): number {
    return this.#requests.pendingCount;
  }

  put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<void> {
    const refused = this.#refuse('PUT', key);
    if (refused !== undefined) return refused;
    const invalid = invalidKey(key);
    if (invalid !== undefined) return invalid;
    // Kept by reference: an engine that changed a body after handing it over would show up
    // as a corrupt object in the replay checks.
    const bytes = body;
    this.#recordBody(key, bytes);
    const createOnly = options.createOnly === true;
    this.#landZombie(key, bytes);
    const plan = this.#options.planner.planChange(this.#options.clock.nowMs(), { landsLate: true });
    let outcome: 'stored' | 'precondition-failed' | undefined;
    const kind = classifyKey(key).kind;
    const zombie = kind === 'log' || kind === 'zero-ranges' ? { key, bytes, createOnly, processId: this.#options.processId } : undefined;
    return this.#requests.change({
      describe: `PUT ${key}${createOnly ? ' (create-only)' : ''}`,
      plan,
      zombie,
      apply: () => {
        outcome = this.#options.bucket.land({ key, bytes, createOnly, processId: this.#options.processId, nowMs: this.#options.clock.nowMs() });
        this.#options.trace(`p${this.#options.processId} PUT ${key} landed: ${outcome}`);
      },
      answer: () => {
        if (outcome !== 'precondition-failed') return;
        this.#options.planner.counts['precondition-failed']++;
        const stored = this.#options.bucket.peek(key);
        if (stored !== undefined && Buffer.compare(stored.bytes, bytes) !== 0) this.conflictingKeys.add(key);
        throw storeError('ERR_STORE_PRECONDITION_FAILED', `Object ${JSON.stringify(key)} already exists`, key);
      },
    });
  }

  async get(key: string, options: GetOptions = {}): Promise<Uint8Array> {
    const refused = this.#refuse('GET', key);
    if (refused !== undefined) return refused;
    return this.#requests.read({ describe: `GET ${key}`, plan: this.#planRead(), produce: () => this.#options.bucket.read(key, options.range) });
  }

  async head(key: string): Promise<ObjectInfo> {
    const refused = this.#refuse('HEAD', key);
    if (refused !== undefined) return refused;
    return this.#requests.read({ describe: `HEAD ${key}`, plan: this.#planRead(), produce: () => ({ key, sizeBytes: this.#options.bucket.read(key).length }) });
  }

  async *list(options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    const prefix = options.prefix ?? '';
    let startAfter = options.startAfter;
    for (;;) {
      const refused = this.#refuse('LIST', prefix);
      if (refused !== undefined) await refused;
      const pageSize = this.#options.listPageSize;
      const page = await this.#requests.read({
        describe: `LIST ${prefix || '(all)'} after ${startAfter ?? '(start)'}`,
        plan: this.listsCalm ? this.#options.planner.planQuiet() : this.#planRead(),
        produce: () => this.#options.bucket.listPage({ prefix, startAfter, pageSize }),
      });
      yield* page;
      const last = page.at(-1);
      if (last === undefined || page.length < pageSize) return;
      startAfter = last.key;
    }
  }

  delete(key: string): Promise<void> {
    const refused = this.#refuse('DELETE', key);
    if (refused !== undefined) return refused;
    const invalid = invalidKey(key);
    if (invalid !== undefined) return invalid;
    const plan = this.#options.planner.planChange(this.#options.clock.nowMs(), { landsLate: this.#options.planner.profile.lateDeletes });
    return this.#requests.change({
      describe: `DELETE ${key}`,
      plan,
      zombie: undefined,
      apply: () => {
        this.#options.bucket.remove(key);
        this.#options.trace(`p${this.#options.processId} DELETE ${key} landed`);
      },
      answer: () => {},
    });
  }

  async close(): Promise<void> {}

  /** The engine was abandoned: from now on any request it sends is a bug. */
  noteAbandoned(): void {
    this.#abandoned = true;
  }

  /** The process died: see the class comment. Returns the zombies it leaves behind. */
  crash(): Map<string, Zombie> {
    this.#crashed = true;
    const zombies = new Map<string, Zombie>();
    const { random, planner, trace, processId } = this.#options;
    for (const request of this.#requests.drain()) {
      if (request.land !== undefined) {
        if (request.zombie !== undefined && random.nextFloat() < this.#options.zombieProbability) {
          zombies.set(request.zombie.key, request.zombie);
          trace(`p${processId} ${request.describe} left as a zombie`);
        } else if (random.nextFloat() < CRASH_LANDS_PROBABILITY) {
          request.land();
          planner.counts['crash-landed']++;
        } else {
          trace(`p${processId} ${request.describe} dropped by the crash`);
          planner.counts['crash-dropped']++;
        }
      }
      request.fail?.(storeError('ERR_STORE_UNAVAILABLE', 'The connection was reset: the process crashed'));
    }
    return zombies;
  }

  /** A zombie of the previous process for `key` lands now, just before this process's PUT. */
  #landZombie(key: string, bytes: Uint8Array): void {
    const zombie = this.#options.zombies.get(key);
    if (zombie === undefined) return;
    this.#options.zombies.delete(key);
    // Landing under an existing key is refused; landing our own bytes changes nothing.
    if (this.#options.bucket.peek(key) !== undefined || Buffer.compare(zombie.bytes, bytes) === 0) return;
    this.#options.planner.counts['zombie-collision']++;
    this.zombieKeys.add(key);
    this.#options.trace(`zombie PUT ${key} of process ${zombie.processId} lands`);
    // Said before it lands: the bucket's checks must know another writer's object arrives.
    this.#options.zombieLanded(key);
    this.#options.bucket.land({ key, bytes: zombie.bytes, createOnly: zombie.createOnly, processId: zombie.processId, nowMs: this.#options.clock.nowMs() });
  }

  /** A rejection for a request the bucket must not see, or undefined to go ahead. */
  #refuse(method: string, key: string): Promise<never> | undefined {
    this.requestCount++;
    if (this.#abandoned) this.#options.violation(`the abandoned engine of process ${this.#options.processId} sent ${method} ${key} (abandon() must start no new store request)`);
    if (!this.#crashed) return undefined;
    return Promise.reject(storeError('ERR_STORE_UNAVAILABLE', 'The process has crashed'));
  }

  #planRead(): RequestPlan {
    return this.#options.planner.planRequest(this.#options.clock.nowMs());
  }

  #recordBody(key: string, bytes: Uint8Array): void {
    const earlier = this.bodiesPut.get(key);
    if (earlier === undefined) this.bodiesPut.set(key, bytes);
    else if (Buffer.compare(earlier, bytes) !== 0) this.#options.violation(`process ${this.#options.processId} put "${key}" twice with different bytes`);
  }
}

/** ERR_STORE_INVALID_KEY as a rejection, as the real stores report it. */
function invalidKey(key: string): Promise<never> | undefined {
  try {
    validateKey(key);
    return undefined;
  } catch (error) {
    return Promise.reject(error);
  }
}
