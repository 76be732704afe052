/**
 * The daemon's life in a simulated run: start-up (openVolume, then the recovery check),
 * serving the clients, crashes at random moments (during recovery too), clean restarts,
 * fencing by another writer's object followed by the operator's rollback, and the final
 * clean shutdown and start-up that must give back exactly the acknowledged data.
 */
import type { Logger } from 'pino';
import type { SeededRandom } from '../../daemon/clock.js';
import { openVolume } from '../../daemon/open-volume.js';
import type { Volume } from '../../daemon/volume.js';
import { executeOperation } from './client.js';
import type { ClientContextImpl } from './context.js';
import { DaemonProcess } from './daemon-process.js';
import { describe, isRestartable } from './error-text.js';
import type { FaultPlanner } from './faults.js';
import type { VolumeModel } from './model.js';
import type { RunParameters } from './parameters.js';
import { rollBack, rollbackTarget } from './operator.js';
import { ReadyGate } from './ready-gate.js';
import type { PrefixTracker } from './reference-replay.js';
import type { SimBucket } from './sim-bucket.js';
import { ProcessClock, type SimClock } from './sim-clock.js';
import { SimStore, type Zombie } from './sim-store.js';
import type { RunStats } from './simulation.js';
import type { EngineVariant } from './variants.js';
import { verifyRecovery } from './verify-recovery.js';
import type { Workload } from './workload.js';

export interface LifecycleOptions {
  clock: SimClock;
  random: SeededRandom;
  /** A fresh random source for each engine started. */
  engineRandom: () => SeededRandom;
  parameters: RunParameters;
  bucket: SimBucket;
  planner: FaultPlanner;
  model: VolumeModel;
  prefix: PrefixTracker;
  workload: Workload;
  context: ClientContextImpl;
  stats: RunStats;
  logger: Logger;
  variant: EngineVariant | undefined;
  trace(line: string): void;
  violation(message: string): void;
}

/** Longest pause before a crashed daemon is started again (a supervisor's restart delay). */
const RESTART_DELAY_MAX_MS = 1000;
/** Longest pause after a crash point before the crash happens. */
const CRASH_DELAY_MAX_MS = 100;
/** A crash during recovery comes at most this long after the restart. */
const CRASH_DURING_RECOVERY_DELAY_MAX_MS = 300;
/** Failed start-ups in a row after which LIST pages answer without faults (SimStore.listsCalm). */
const OPEN_FAILURES_BEFORE_CALM_LISTS = 5;
/** Daemon processes one run may start; more means it is not making progress. */
const PROCESSES_MAX = 2000;

export class Lifecycle {
  finished = false;
  readonly #options: LifecycleOptions;
  readonly #processes: DaemonProcess[] = [];
  #process: DaemonProcess | undefined;
  readonly #ready = new ReadyGate();
  #issued = 0;
  #slotsDone = 0;
  #finishing = false;
  readonly #crashPoints: number[];
  #afterSettle: (() => void)[] = [];
  #zombies = new Map<string, Zombie>();
  #openFailuresInARow = 0;

  constructor(options: LifecycleOptions) {
    this.#options = options;
    const { random, parameters } = options;
    this.#crashPoints = Array.from({ length: parameters.crashCount }, () => 1 + random.nextInt(parameters.operationCount)).sort((a, b) => a - b);
  }

  get storeRequestCount(): number {
    return this.#processes.reduce((sum, process) => sum + process.store.requestCount, 0);
  }

  start(): void {
    this.#startProcess();
    const slots = Array.from({ length: this.#options.parameters.queueDepth }, () => this.#slot());
    void Promise.all(slots)
      .then(() => this.#finish())
      .catch((error: unknown) => this.#options.violation(`the simulation failed: ${describe(error)}`));
  }

  /** Runs what had to wait until the engines' continuations ran. */
  afterSettle(): void {
    const callbacks = this.#afterSettle;
    this.#afterSettle = [];
    for (const callback of callbacks) callback();
  }

  describeWaiting(): string {
    const process = this.#process;
    const about = process === undefined ? 'no process' : `process ${process.processId} ${process.state} with ${process.requestsInFlight} client requests and ${process.store.pendingCount} store requests in flight`;
    return `${about}; ${this.#issued}/${this.#options.parameters.operationCount} requests sent; ${this.#slotsDone} clients done`;
  }

  /** The end of the run: every engine still running is abandoned, nothing more happens. */
  stopAll(): void {
    this.#ready.stop();
    for (const process of this.#processes) {
      if (!process.alive) continue;
      process.markDead();
      process.volume?.abandon();
      process.clock.kill();
    }
  }

  async #slot(): Promise<void> {
    const { clock, parameters, workload, stats, context } = this.#options;
    for (;;) {
      await this.#ready.wait();
      if (this.#issued >= parameters.operationCount || this.#ready.stopped) break;
      await clock.sleep(workload.thinkMs());
      const process = this.#process;
      if (process?.state !== 'serving') continue;
      if (this.#issued >= parameters.operationCount) break;
      this.#issued++;
      this.#scheduleCrashes();
      const operation = workload.next();
      stats.operations++;
      if (operation.kind === 'write') stats.writes++;
      else if (operation.kind === 'read') stats.reads++;
      else if (operation.kind === 'flush') stats.flushes++;
      if (operation.kind === 'restart') await this.#shutDown(process, { restart: true });
      else await Promise.race([executeOperation(context, process, operation), process.died]);
    }
    this.#slotsDone++;
  }

  #scheduleCrashes(): void {
    const { clock, random } = this.#options;
    while (this.#crashPoints[0] !== undefined && this.#crashPoints[0] <= this.#issued) {
      this.#crashPoints.shift();
      clock.setTimer(() => this.#crash(), random.nextFloat() < 0.3 ? 0 : random.nextFloat() * CRASH_DELAY_MAX_MS);
    }
  }

  #spawn(): DaemonProcess {
    const { clock, bucket, planner, parameters, random, trace, violation, context } = this.#options;
    const processId = this.#processes.length + 1;
    const store = new SimStore({
      processId,
      bucket,
      clock,
      planner,
      random,
      listPageSize: parameters.listPageSize,
      zombieProbability: parameters.zombieProbability,
      zombies: this.#zombies,
      zombieLanded: () => (context.prefixChecksSuspended = true),
      violation,
      trace,
    });
    const process = new DaemonProcess({ processId, clock: new ProcessClock(clock), store });
    this.#processes.push(process);
    this.#process = process;
    return process;
  }

  #startProcess(): void {
    const { parameters, logger, variant, trace, planner } = this.#options;
    if (this.#processes.length >= PROCESSES_MAX) {
      this.#options.violation(`no progress: ${PROCESSES_MAX} daemon processes started (${this.describeWaiting()})`);
      return;
    }
    const process = this.#spawn();
    if (this.#openFailuresInARow >= OPEN_FAILURES_BEFORE_CALM_LISTS) {
      process.store.listsCalm = true;
      planner.counts['lists-calmed']++;
    }
    this.#ready.close();
    trace(`process ${process.processId} starts`);
    openVolume({
      store: variant?.wrapStore?.(process.store) ?? process.store,
      clock: process.clock,
      random: this.#options.engineRandom(),
      logger,
      config: parameters.config,
      sizeBytes: parameters.volumeSizeBytes,
    }).then(
      (volume) => this.#opened(process, volume),
      (error: unknown) => this.#openFailed(process, error),
    );
  }

  #opened(process: DaemonProcess, volume: Volume): void {
    process.volume = volume;
    if (!process.alive) {
      volume.abandon();
      return;
    }
    process.state = 'verifying';
    void volume.failure.then((error) => this.#fenced(process, error));
    this.#openFailuresInARow = 0;
    void verifyRecovery({ ...this.#options, process }).then((verified) => {
      if (!verified || process.state !== 'verifying') return;
      process.state = 'serving';
      this.#ready.open();
    });
  }

  #openFailed(process: DaemonProcess, error: unknown): void {
    if (!process.alive) return;
    if (!isRestartable(error)) {
      this.#options.violation(`start-up of process ${process.processId} failed: ${describe(error)}`);
      return;
    }
    this.#options.planner.counts['open-failed']++;
    this.#openFailuresInARow++;
    this.#options.trace(`process ${process.processId} start-up failed (${describe(error)}); the supervisor restarts it`);
    this.#kill(process);
    this.#options.clock.setTimer(() => this.#startProcess(), this.#options.random.nextFloat() * RESTART_DELAY_MAX_MS);
  }

  #crash(): void {
    const process = this.#process;
    const { clock, random, parameters, planner, stats, trace } = this.#options;
    if (process === undefined || !process.alive || this.#finishing) return;
    if (process.store.zombieKeys.size > 0 && !parameters.crashInZombieWindow) {
      trace(`crash of process ${process.processId} held off: a zombie's object is in its way and it has not fenced yet`);
      return;
    }
    stats.crashes++;
    planner.counts[process.state === 'serving' || process.state === 'closing' ? 'crash' : 'crash-during-recovery']++;
    trace(`CRASH of process ${process.processId} (${process.state})`);
    this.#kill(process);
    const restartDelayMs = random.nextFloat() * RESTART_DELAY_MAX_MS;
    clock.setTimer(() => this.#startProcess(), restartDelayMs);
    if (random.nextFloat() < parameters.crashDuringRecoveryProbability) clock.setTimer(() => this.#crash(), restartDelayMs + random.nextFloat() * CRASH_DURING_RECOVERY_DELAY_MAX_MS);
  }

  /** The process ends: abandoned if its engine still runs, its pending store requests settled. */
  #kill(process: DaemonProcess, options: { abandon: boolean } = { abandon: true }): void {
    process.markDead();
    this.#ready.close();
    const volume = process.volume;
    if (volume !== undefined && options.abandon) {
      volume.abandon();
      process.store.noteAbandoned();
    }
    this.#zombies = process.store.crash();
    this.#afterSettle.push(() => {
      const pending = process.clock.pendingTimerCount;
      if (volume !== undefined && pending > 0) this.#options.violation(`process ${process.processId} left ${pending} timers pending after ${options.abandon ? 'abandon()' : 'close()'}`);
      process.clock.kill();
    });
  }

  #fenced(process: DaemonProcess, error: Error): void {
    if (!process.alive) return;
    const { trace, stats, violation, clock, random, logger } = this.#options;
    if (process.store.conflictingKeys.size === 0) {
      violation(`process ${process.processId} was fenced though no other writer's object is in its way: ${describe(error)}`);
      return;
    }
    stats.fences++;
    // The operator rolls back to before the earliest foreign object. The engine cannot tell
    // which objects are foreign beyond the one it tripped on; the simulator knows where its
    // zombies landed (see docs/SIMULATION.md "Findings").
    const toSequence = rollbackTarget([...process.store.conflictingKeys, ...process.store.zombieKeys]);
    trace(`process ${process.processId} fenced (${describe(error)}); the operator rolls back to ${toSequence}`);
    this.#kill(process);
    stats.rollbacks++;
    // The operator's tool is a process of its own, with its own view of the bucket.
    const operator = this.#spawn();
    operator.markDead();
    const onAttemptFailed = (attempt: number) => {
      // `rollback` lists the bucket without retrying a failed page, as start-up does (finding 3).
      if (attempt !== OPEN_FAILURES_BEFORE_CALM_LISTS) return;
      operator.store.listsCalm = true;
      this.#options.planner.counts['lists-calmed']++;
    };
    void rollBack({ store: operator.store, toSequence, clock, random, logger, onAttemptFailed, violation }).then((done) => {
      if (done) this.#startProcess();
    });
  }

  /** A clean shutdown (close); then a new start-up unless this is the end of the run. Returns whether it completed. */
  async #shutDown(process: DaemonProcess, options: { restart: boolean }): Promise<boolean> {
    const { model, context, stats, violation, trace } = this.#options;
    const volume = process.volume;
    if (process.state !== 'serving' || volume === undefined) return false;
    process.state = 'closing';
    this.#ready.close();
    stats.cleanRestarts++;
    const closeTick = model.tick();
    trace(`process ${process.processId} closes (t${closeTick})`);
    try {
      await volume.close();
    } catch (error) {
      if (process.alive && !(process.store.conflictingKeys.size > 0)) violation(`close() of process ${process.processId} failed: ${describe(error)}`);
      return false;
    }
    if (!process.alive) return false;
    // close() stored every write answered before it: as a FLUSH sent at closeTick.
    model.flushed(closeTick);
    context.auditFlush(process, volume.stats().lastSealedSequence);
    this.#kill(process, { abandon: false });
    if (options.restart) this.#startProcess();
    return true;
  }

  async #finish(): Promise<void> {
    this.#finishing = true;
    for (let restarted = false; ; ) {
      await this.#ready.wait();
      const process = this.#process;
      if (this.#ready.stopped) return;
      // Readiness is withdrawn whenever the serving process stops serving, so this waits
      // for the next one instead of spinning.
      if (process?.state !== 'serving') continue;
      if (!(await this.#shutDown(process, { restart: !restarted }))) continue;
      if (restarted) break;
      restarted = true;
    }
    for (const process of this.#processes) {
      if (process.requestsInFlight > 0) this.#options.violation(`process ${process.processId} ended with ${process.requestsInFlight} client requests never answered`);
    }
    this.finished = true;
  }
}
