/** Building blocks for the simulator's own tests: a quiet fault profile and a store on a clock. */
import { SeededRandom } from '../../daemon/clock.js';
import { type FaultProfile, FaultPlanner } from './faults.js';
import { SimBucket } from './sim-bucket.js';
import { SimClock, settle } from './sim-clock.js';
import { SimStore, type Zombie } from './sim-store.js';

/** No faults; latencies around `latencyMedianMs`. */
export function calmProfile(overrides: Partial<FaultProfile> = {}): FaultProfile {
  return {
    latencyMedianMs: 10,
    latencySigma: 0.5,
    tailProbability: 0,
    tailScaleMs: 50,
    tailAlpha: 1.5,
    latencyMaxMs: 1000,
    unavailableProbability: 0,
    throttledProbability: 0,
    timeoutProbability: 0,
    timeoutMs: 2000,
    lostAckProbability: 0,
    timeoutLandsProbability: 0.5,
    lateDeletes: false,
    outages: [],
    ...overrides,
  };
}

export interface StoreWorld {
  clock: SimClock;
  bucket: SimBucket;
  store: SimStore;
  planner: FaultPlanner;
  violations: string[];
  /** A second daemon process's view of the same bucket. */
  anotherProcess(): SimStore;
  /** Runs events until nothing is scheduled. */
  runUntilIdle(): Promise<void>;
}

export function storeWorld(options: { seed?: number; profile?: FaultProfile; zombies?: Map<string, Zombie>; zombieProbability?: number } = {}): StoreWorld {
  const clock = new SimClock();
  const violations: string[] = [];
  const bucket = new SimBucket({ violation: (message) => violations.push(message), landed: () => {} });
  const random = new SeededRandom(options.seed ?? 1);
  const planner = new FaultPlanner({ profile: options.profile ?? calmProfile(), random });
  const storeOf = (processId: number) =>
    new SimStore({
      processId,
      bucket,
      clock,
      planner,
      random,
      listPageSize: 2,
      zombieProbability: options.zombieProbability ?? 0,
      zombies: options.zombies ?? new Map(),
      zombieLanded: () => {},
      violation: (message) => violations.push(message),
      trace: () => {},
    });
  const store = storeOf(1);
  let processCount = 1;
  return {
    clock,
    bucket,
    store,
    planner,
    violations,
    anotherProcess: () => storeOf(++processCount),
    async runUntilIdle() {
      for (;;) {
        await settle();
        const dueMs = clock.nextDueMs();
        if (dueMs === undefined) return;
        clock.advance(dueMs - clock.nowMs());
      }
    },
  };
}

/** Settles `promise` into a plain outcome, so a test can run the clock before looking. */
export function outcomeOf(promise: Promise<unknown>): { readonly value: { status: 'pending' } | { status: 'fulfilled' } | { status: 'rejected'; code: string | undefined } } {
  const holder: { value: { status: 'pending' } | { status: 'fulfilled' } | { status: 'rejected'; code: string | undefined } } = { value: { status: 'pending' } };
  promise.then(
    () => (holder.value = { status: 'fulfilled' }),
    (error: unknown) => (holder.value = { status: 'rejected', code: typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined }),
  );
  return holder;
}
