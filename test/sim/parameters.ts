/**
 * Swarm testing: each seed picks its own world — volume and object sizes, engine limits,
 * how faulty the store is, how busy the client is, how often the daemon crashes — so a
 * campaign explores corners no single fixed configuration reaches.
 */
import type { SeededRandom } from '../../daemon/clock.js';
import type { VolumeConfig } from '../../daemon/volume-config.js';
import { HEADER_SIZE_BYTES, SECTOR_SIZE_BYTES } from '../../logformat/limits.js';
import type { FaultProfile } from './faults.js';

const KIB = 1024;
const MIB = 1024 * KIB;

export interface OperationMix {
  write: number;
  read: number;
  flush: number;
  trim: number;
  zero: number;
  /** A clean shutdown (close) and start-up. */
  restart: number;
}

export interface RunParameters {
  volumeSizeBytes: number;
  config: Partial<VolumeConfig>;
  /** Client requests in flight at most (an NBD client's queue depth). */
  queueDepth: number;
  operationCount: number;
  /** Crashes at random moments of the workload. */
  crashCount: number;
  /** Probability that a crash is followed by another one during the recovery. */
  crashDuringRecoveryProbability: number;
  /** Mean pause of a client between two requests. */
  thinkMeanMs: number;
  /** Probability a pause is long enough for the idle seal to fire. */
  idlePauseProbability: number;
  /** Probability a request is 512-byte aligned (a read-modify-write of 4 KiB sectors). */
  unalignedProbability: number;
  mix: OperationMix;
  faults: FaultProfile;
  listPageSize: number;
  /** Probability an unlanded PUT of a crashed daemon lands later, just before the next daemon's PUT of that key. */
  zombieProbability: number;
  /**
   * Whether a crash may hit between a zombie landing and the engine fencing itself. Off by
   * default: in that window lsvd cannot tell the dead writer's object from its own (see
   * docs/SIMULATION.md "Findings"), so the invariants cannot hold.
   */
  crashInZombieWindow: boolean;
}

/** Limits on the sizes a run may pick. */
export interface ParameterBounds {
  operationCountMax: number;
  volumeSizesBytes: readonly number[];
}

export const SHORT_RUN_BOUNDS: ParameterBounds = { operationCountMax: 100, volumeSizesBytes: [256 * KIB, 512 * KIB, 1 * MIB] };
export const LONG_RUN_BOUNDS: ParameterBounds = { operationCountMax: 2000, volumeSizesBytes: [512 * KIB, 1 * MIB, 2 * MIB, 8 * MIB] };

function pick<T>(random: SeededRandom, choices: readonly T[]): T {
  const choice = choices[random.nextInt(choices.length)];
  if (choice === undefined) throw new Error('pick from an empty list');
  return choice;
}

function between(random: SeededRandom, low: number, high: number): number {
  return low + random.nextFloat() * (high - low);
}

export function chooseParameters(random: SeededRandom, bounds: ParameterBounds): RunParameters {
  const targetObjectSizeBytes = SECTOR_SIZE_BYTES * pick(random, [2, 4, 8, 16]);
  const operationCount = 10 + random.nextInt(bounds.operationCountMax - 9);
  const config: Partial<VolumeConfig> = {
    targetObjectSizeBytes,
    unuploadedBytesMax: 2 * (targetObjectSizeBytes + HEADER_SIZE_BYTES) + random.nextInt(4) * targetObjectSizeBytes,
    uploadsInFlightMax: pick(random, [1, 2, 4, 8, 100]),
    idleSealMs: pick(random, [2, 10, 50, 200, 1000]),
    readCacheBytes: pick(random, [0, 16 * KIB, 256 * KIB, 1 * MIB]),
    readsInFlightMax: pick(random, [1, 4, 100]),
    readRetryTimeoutMs: 300_000,
    retryBaseDelayMs: pick(random, [1, 10, 100]),
  };
  config.retryMaxDelayMs = (config.retryBaseDelayMs ?? 1) * pick(random, [4, 100]);
  return {
    volumeSizeBytes: pick(random, bounds.volumeSizesBytes),
    config,
    queueDepth: pick(random, [1, 1, 2, 4, 8]),
    operationCount,
    crashCount: pick(random, [0, 1, 1, 2, 3]),
    crashDuringRecoveryProbability: pick(random, [0, 0.3]),
    thinkMeanMs: pick(random, [0, 1, 5, 20]),
    idlePauseProbability: pick(random, [0, 0.05]),
    unalignedProbability: pick(random, [0, 0.3]),
    mix: {
      write: 10,
      read: pick(random, [3, 8]),
      flush: pick(random, [1, 3]),
      trim: pick(random, [0, 1]),
      zero: pick(random, [0, 1]),
      restart: pick(random, [0, 0, 0.2]),
    },
    faults: chooseFaults(random, operationCount),
    listPageSize: pick(random, [3, 50, 1000]),
    zombieProbability: pick(random, [0, 0, 0.5]),
    crashInZombieWindow: false,
  };
}

function chooseFaults(random: SeededRandom, operationCount: number): FaultProfile {
  const weather = pick(random, ['calm', 'normal', 'normal', 'stormy'] as const);
  const scale = weather === 'calm' ? 0 : weather === 'normal' ? 1 : 3;
  const latencyMedianMs = pick(random, [1, 5, 20, 60]);
  const outageCount = weather === 'stormy' ? 1 + random.nextInt(2) : 0;
  // Outages fall somewhere in the run's likely span of simulated time.
  const spanMs = operationCount * (latencyMedianMs + 10);
  return {
    latencyMedianMs,
    latencySigma: between(random, 0.3, 1),
    tailProbability: scale === 0 ? 0 : between(random, 0, 0.05),
    tailScaleMs: latencyMedianMs * 5,
    tailAlpha: between(random, 1.1, 2),
    latencyMaxMs: 20_000,
    unavailableProbability: scale * between(random, 0, 0.03),
    throttledProbability: scale * between(random, 0, 0.02),
    timeoutProbability: scale * between(random, 0, 0.005),
    timeoutMs: pick(random, [2000, 30_000]),
    lostAckProbability: scale * between(random, 0, 0.03),
    timeoutLandsProbability: 0.5,
    lateDeletes: false,
    outages: Array.from({ length: outageCount }, () => ({ startMs: random.nextFloat() * spanMs, durationMs: pick(random, [100, 2000, 20_000]) })),
  };
}
