/**
 * What the simulated store does to each request, decided from the seed: how long it takes
 * (a long-tailed latency: lognormal body, Pareto tail), whether it fails (503 unavailable,
 * 503 slow down), times out (no answer until the caller's timeout), or lands while its
 * acknowledgement is lost, and outage windows in which every request fails.
 */
import type { SeededRandom } from '../../daemon/clock.js';

export interface FaultProfile {
  /** Median of the lognormal body of the latency distribution. */
  latencyMedianMs: number;
  /** Standard deviation of the latency's logarithm. */
  latencySigma: number;
  /** Probability a request's latency comes from the Pareto tail instead. */
  tailProbability: number;
  tailScaleMs: number;
  /** Pareto shape: smaller is heavier. */
  tailAlpha: number;
  /** No answer ever takes longer than this (except a timeout). */
  latencyMaxMs: number;
  /** Per request: ERR_STORE_UNAVAILABLE (HTTP 500/503) before anything happened. */
  unavailableProbability: number;
  /** Per request: ERR_STORE_THROTTLED (HTTP 503 Slow Down). */
  throttledProbability: number;
  /** Per request: no answer until the caller's timeout, then an error. */
  timeoutProbability: number;
  timeoutMs: number;
  /** Per PUT or DELETE: the change lands but the caller sees an error. */
  lostAckProbability: number;
  /** Per timed-out PUT or DELETE: it lands at some point (a PUT possibly after the caller saw the timeout). */
  timeoutLandsProbability: number;
  /**
   * Whether a timed-out DELETE may also land after the caller saw the timeout. Off by
   * default: lsvd cannot survive it today (docs/SIMULATION.md "Findings").
   */
  lateDeletes: boolean;
  /** Windows of simulated time in which every request fails (a regional outage). */
  outages: readonly { startMs: number; durationMs: number }[];
}

/** Every kind of fault the simulator injects, for the campaign totals. */
export const FAULT_KINDS = [
  'unavailable',
  'throttled',
  'timeout',
  'timeout-landed-late',
  'lost-ack',
  'outage',
  'precondition-failed',
  'tail-latency',
  'crash-landed',
  'crash-dropped',
  'crash',
  'crash-during-recovery',
  'zombie-collision',
  'open-failed',
  'lists-calmed',
] as const;

export type FaultKind = (typeof FAULT_KINDS)[number];
export type FaultCounts = Record<FaultKind, number>;

export function emptyFaultCounts(): FaultCounts {
  return Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as FaultCounts;
}

export function addFaultCounts(total: FaultCounts, more: FaultCounts): void {
  for (const kind of FAULT_KINDS) total[kind] += more[kind];
}

/** A timed-out change that lands late does so within this many timeouts of being sent. */
const LATE_LANDING_TIMEOUTS_MAX = 1.5;

export type RequestError = 'unavailable' | 'throttled' | 'timeout' | 'outage';

/** A read-only request (GET, HEAD, a LIST page): when it answers and with what. */
export interface RequestPlan {
  replyDelayMs: number;
  error: RequestError | undefined;
}

/** A PUT or DELETE: also when (if ever) it changes the bucket. */
export interface ChangePlan extends RequestPlan {
  /** undefined: it never lands. */
  landDelayMs: number | undefined;
}

export class FaultPlanner {
  readonly counts: FaultCounts = emptyFaultCounts();
  readonly #profile: FaultProfile;
  readonly #random: SeededRandom;

  constructor(options: { profile: FaultProfile; random: SeededRandom }) {
    this.#profile = options.profile;
    this.#random = options.random;
  }

  get profile(): FaultProfile {
    return this.#profile;
  }

  planRequest(nowMs: number): RequestPlan {
    const latencyMs = this.#latencyMs();
    const error = this.#error(nowMs);
    return { replyDelayMs: error === 'timeout' ? this.#profile.timeoutMs : latencyMs, error };
  }

  /** Latency only: a request the simulator lets through (see SimStore.listsCalm). */
  planQuiet(): RequestPlan {
    return { replyDelayMs: this.#latencyMs(), error: undefined };
  }

  /** A PUT or DELETE; `landsLate` lets a timed-out one land after the caller saw the timeout. */
  planChange(nowMs: number, options: { landsLate: boolean }): ChangePlan {
    const plan = this.planRequest(nowMs);
    const random = this.#random;
    if (plan.error === 'timeout') {
      // The request reached the store, or did not; if it did, it may be applied after the
      // caller gave up (servers finish requests whose client went away).
      if (random.nextFloat() >= this.#profile.timeoutLandsProbability) return { ...plan, landDelayMs: undefined };
      const landDelayMs = random.nextFloat() * this.#profile.timeoutMs * (options.landsLate ? LATE_LANDING_TIMEOUTS_MAX : 1);
      if (landDelayMs > plan.replyDelayMs) this.counts['timeout-landed-late']++;
      return { ...plan, landDelayMs };
    }
    if (plan.error !== undefined) return { ...plan, landDelayMs: undefined };
    if (random.nextFloat() < this.#profile.lostAckProbability) {
      this.counts['lost-ack']++;
      // Landed; the reply (or the connection) was lost on the way back.
      return { replyDelayMs: plan.replyDelayMs, error: 'unavailable', landDelayMs: plan.replyDelayMs * random.nextFloat() };
    }
    return { ...plan, landDelayMs: plan.replyDelayMs };
  }

  #error(nowMs: number): RequestError | undefined {
    const profile = this.#profile;
    if (profile.outages.some((outage) => nowMs >= outage.startMs && nowMs < outage.startMs + outage.durationMs)) {
      this.counts.outage++;
      return 'outage';
    }
    const roll = this.#random.nextFloat();
    let threshold = profile.unavailableProbability;
    if (roll < threshold) return this.#count('unavailable');
    threshold += profile.throttledProbability;
    if (roll < threshold) return this.#count('throttled');
    threshold += profile.timeoutProbability;
    if (roll < threshold) return this.#count('timeout');
    return undefined;
  }

  #count<K extends 'unavailable' | 'throttled' | 'timeout'>(kind: K): K {
    this.counts[kind]++;
    return kind;
  }

  #latencyMs(): number {
    const profile = this.#profile;
    const random = this.#random;
    if (random.nextFloat() < profile.tailProbability) {
      this.counts['tail-latency']++;
      // Pareto: scale / U^(1/alpha), U in (0, 1].
      const uniform = 1 - random.nextFloat();
      return Math.min(profile.latencyMaxMs, profile.tailScaleMs / uniform ** (1 / profile.tailAlpha));
    }
    // Lognormal: the median times e^(sigma * N(0,1)), N from Box–Muller.
    const normal = Math.sqrt(-2 * Math.log(1 - random.nextFloat())) * Math.cos(2 * Math.PI * random.nextFloat());
    return Math.min(profile.latencyMaxMs, profile.latencyMedianMs * Math.exp(profile.latencySigma * normal));
  }
}
