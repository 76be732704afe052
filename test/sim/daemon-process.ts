/**
 * One simulated run of the daemon (`lsvd run`): its own clock view, its own connection to
 * the bucket, and the real engine it opened. A crash or a clean exit ends it; the next
 * start-up is a new DaemonProcess on the same bucket.
 */
import type { Volume } from '../../daemon/volume.js';
import type { ProcessClock } from './sim-clock.js';
import type { SimStore } from './sim-store.js';

export type ProcessState =
  /** openVolume is running (descriptor, recovery). */
  | 'opening'
  /** Opened; the simulator is checking what recovery produced. Clients wait. */
  | 'verifying'
  /** Clients send requests. */
  | 'serving'
  /** A clean shutdown (close) is running. */
  | 'closing'
  /** Crashed, exited, or fenced and stopped. */
  | 'dead';

export class DaemonProcess {
  readonly processId: number;
  readonly clock: ProcessClock;
  readonly store: SimStore;
  volume: Volume | undefined;
  state: ProcessState = 'opening';
  /** The last log object recovery replayed: objects above it are this process's own. */
  lastSequenceAtOpen = 0;
  /** Log objects 1..this were checked to be in the bucket after a FLUSH. */
  auditedThroughSequence = 0;
  /** Client requests sent to this process and not answered yet. */
  requestsInFlight = 0;
  /** Settles when the process ends (a client stops waiting on its requests). */
  readonly died: Promise<void>;
  #markDead: () => void = () => {};

  constructor(options: { processId: number; clock: ProcessClock; store: SimStore }) {
    this.processId = options.processId;
    this.clock = options.clock;
    this.store = options.store;
    this.died = new Promise((resolve) => (this.#markDead = resolve));
  }

  markDead(): void {
    this.state = 'dead';
    this.#markDead();
  }

  get alive(): boolean {
    return this.state !== 'dead';
  }
}
