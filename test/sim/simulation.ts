/**
 * The deterministic simulator (docs/SIMULATION.md): the real engine — `openVolume` and the
 * `Volume` it returns, the code `lsvd run` serves — driven by a simulated client against a
 * simulated, faulty bucket, on a simulated clock, all from one seed. Time only moves when
 * every promise continuation has run and nothing can happen before the next timer, so a run
 * of thousands of requests takes milliseconds and replays exactly.
 *
 * Invariants checked as the run goes (any breach ends it with a message):
 * - read-your-writes, with concurrency (model.ts);
 * - a FLUSH answered success means log objects 1..n are in the bucket, the process's own
 *   ones byte for byte as it sealed them (the FLUSH audit);
 * - every consistent point the bucket reaches (its gap-free prefix growing) is a state the
 *   model allows, and after recovery the volume reads exactly as the bucket's objects
 *   1..n replay, which must be a state at or after the last FLUSH/FUA answered;
 * - no object is overwritten, nothing is deleted without an identical archive copy
 *   (sim-bucket.ts); an abandoned engine sends nothing more and keeps no timer;
 * - every request sent is eventually answered, and the run makes progress.
 */
import pino, { type Logger } from 'pino';
import { SeededRandom } from '../../daemon/clock.js';
import { ClientContextImpl } from './context.js';
import { emptyFaultCounts, type FaultCounts, FaultPlanner } from './faults.js';
import { VolumeModel } from './model.js';
import { chooseParameters, type ParameterBounds, type RunParameters, SHORT_RUN_BOUNDS } from './parameters.js';
import { Lifecycle } from './lifecycle.js';
import { PrefixTracker } from './reference-replay.js';
import { SimBucket } from './sim-bucket.js';
import { SimClock, settle } from './sim-clock.js';
import { UNIT_SIZE_BYTES } from './unit-pattern.js';
import type { EngineVariant } from './variants.js';
import { Workload } from './workload.js';

/** A run that reaches this much simulated time without finishing is not making progress. */
export const SIMULATED_TIME_MAX_MS = 4 * 60 * 60 * 1000;

export interface SimulationOptions {
  seed: number;
  bounds?: ParameterBounds;
  /** Receives every trace line (verbose replay); absent: no trace is built. */
  trace?: (line: string) => void;
  variant?: EngineVariant;
  /** Changes to the parameters the seed picked (tests pin a scenario this way). */
  adjust?: (parameters: RunParameters) => void;
}

export interface RunStats {
  operations: number;
  writes: number;
  reads: number;
  flushes: number;
  crashes: number;
  cleanRestarts: number;
  recoveriesVerified: number;
  fences: number;
  rollbacks: number;
  readFailures: number;
  storeRequests: number;
  objectsLanded: number;
  simulatedMs: number;
  faults: FaultCounts;
}

export interface SimulationResult {
  seed: number;
  violation: string | undefined;
  parameters: RunParameters;
  stats: RunStats;
  /** A digest of the final bucket: equal for two runs of one seed. */
  bucketDigest: string;
}

export function emptyStats(): RunStats {
  return {
    operations: 0,
    writes: 0,
    reads: 0,
    flushes: 0,
    crashes: 0,
    cleanRestarts: 0,
    recoveriesVerified: 0,
    fences: 0,
    rollbacks: 0,
    readFailures: 0,
    storeRequests: 0,
    objectsLanded: 0,
    simulatedMs: 0,
    faults: emptyFaultCounts(),
  };
}

/** One shared silent logger: the engine logs a lot and nothing reads it unless tracing. */
const SILENT_LOGGER: Logger = pino({ level: 'silent' });

export async function runSimulation(options: SimulationOptions): Promise<SimulationResult> {
  const master = new SeededRandom(options.seed);
  const child = () => new SeededRandom(master.nextInt(0x1_0000_0000) | 0);
  const parameters = chooseParameters(child(), options.bounds ?? SHORT_RUN_BOUNDS);
  options.adjust?.(parameters);
  const clock = new SimClock();
  const stats = emptyStats();
  let violation: string | undefined;
  const report = (message: string) => {
    if (violation === undefined) violation = `at ${clock.nowMs().toFixed(3)} ms: ${message}`;
    options.trace?.(`VIOLATION ${message}`);
  };
  const trace = options.trace === undefined ? () => {} : (line: string) => options.trace?.(`${clock.nowMs().toFixed(3).padStart(12)} ${line}`);
  const logger =
    options.trace === undefined
      ? SILENT_LOGGER
      : pino({ level: 'debug', base: null, timestamp: () => `,"simMs":${clock.nowMs().toFixed(3)}` }, { write: (line: string) => trace(`engine ${line.trimEnd()}`) });
  const unitCount = parameters.volumeSizeBytes / UNIT_SIZE_BYTES;
  const model = new VolumeModel({ unitCount });
  const bucket = new SimBucket({
    violation: report,
    landed: () => context.onBucketChanged(),
  });
  const prefix = new PrefixTracker({ bucket, unitCount });
  const planner = new FaultPlanner({ profile: parameters.faults, random: child() });
  const workload = new Workload({ random: child(), parameters });
  const context = new ClientContextImpl({ model, workload, prefix, bucket, stats, violation: report, trace });
  const lifecycle = new Lifecycle({ clock, random: child(), engineRandom: child, parameters, bucket, planner, model, prefix, workload, context, stats, logger, trace, violation: report, variant: options.variant });
  const onUnhandled = (reason: unknown) => report(`unhandled rejection: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`);
  process.on('unhandledRejection', onUnhandled);
  const uninstall = options.variant?.install();
  trace(`seed ${options.seed}: ${JSON.stringify(parameters)}`);
  try {
    lifecycle.start();
    for (;;) {
      await settle();
      lifecycle.afterSettle();
      if (violation !== undefined || lifecycle.finished) break;
      const dueMs = clock.nextDueMs();
      if (dueMs === undefined) {
        report(`stuck: nothing is scheduled, yet the run is not over (${lifecycle.describeWaiting()})`);
        break;
      }
      if (dueMs > SIMULATED_TIME_MAX_MS) {
        report(`no progress after ${SIMULATED_TIME_MAX_MS} ms of simulated time (${lifecycle.describeWaiting()})`);
        break;
      }
      try {
        clock.advance(dueMs - clock.nowMs());
      } catch (error) {
        report(`a timer callback threw: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        break;
      }
    }
    context.checkWatchedBuffers({ all: true });
  } finally {
    uninstall?.();
    lifecycle.stopAll();
    // Let the abandoned engines' last continuations run before the handler goes.
    await settle();
    process.off('unhandledRejection', onUnhandled);
  }
  stats.simulatedMs = clock.nowMs();
  stats.storeRequests = lifecycle.storeRequestCount;
  stats.objectsLanded = bucket.putsLanded;
  const faults = planner.counts;
  for (const kind of Object.keys(faults) as (keyof FaultCounts)[]) stats.faults[kind] += faults[kind];
  return { seed: options.seed, violation, parameters, stats, bucketDigest: digestBucket(bucket) };
}

/** FNV-1a over every key, every object's length and every 61st byte of it: cheap, and enough to tell two runs apart. */
function digestBucket(bucket: SimBucket): string {
  let hash = 0x811c_9dc5;
  const feed = (byte: number) => {
    hash = Math.imul(hash ^ byte, 0x0100_0193);
  };
  for (const key of bucket.keys()) {
    for (const character of Buffer.from(key)) feed(character);
    const bytes = bucket.peek(key)?.bytes ?? new Uint8Array();
    for (let index = 0; index < bytes.length; index += 61) feed(bytes[index] ?? 0);
    feed(bytes.length & 0xff);
  }
  return `${bucket.keyCount}:${(hash >>> 0).toString(16).padStart(8, '0')}`;
}

/** The command that replays one seed with a full trace. */
export function replayCommand(seed: number, options: { variant?: EngineVariant | undefined; flags?: readonly string[] } = {}): string {
  const variant = options.variant === undefined ? '' : ` --variant ${options.variant.name}`;
  const flags = (options.flags ?? []).map((flag) => ` ${flag}`).join('');
  return `node --import tsx scripts/sim.ts --seed ${seed}${variant}${flags} --verbose`;
}
