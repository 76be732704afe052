import { HOLE_SEQUENCE, type MapRun, type RunSink } from './extent-map-chunk.js';

export interface RunCollectorOptions {
  /** Where the visited range starts: a gap before the first run is a hole from here. */
  fromSector: number;
  /** Emit holes for the gaps between runs (lookup) or only mapped runs (forEachRun). */
  includeHoles: boolean;
  /** Receives each finished run; the object is the receiver's to keep. */
  emit: (run: MapRun) => void;
}

/**
 * Turns the runs chunks report (in address order, split at chunk boundaries) into the map's
 * answer: neighbouring runs that continue the same object contiguously are merged, as are
 * neighbouring holes, and gaps become hole runs when asked.
 */
export class RunCollector implements RunSink {
  readonly #includeHoles: boolean;
  readonly #emit: (run: MapRun) => void;
  #cursorSector: number;
  #pending: MapRun | undefined;

  constructor(options: RunCollectorOptions) {
    this.#includeHoles = options.includeHoles;
    this.#emit = options.emit;
    this.#cursorSector = options.fromSector;
  }

  add(run: MapRun): void {
    if (this.#includeHoles && run.volumeSector > this.#cursorSector) this.#addHole(run.volumeSector);
    this.#push(run);
    this.#cursorSector = run.volumeSector + run.lengthSectors;
  }

  /** Emits the last run, after a final hole up to `toSector` when holes are included. */
  finish(toSector: number): void {
    if (this.#includeHoles && toSector > this.#cursorSector) this.#addHole(toSector);
    if (this.#pending !== undefined) this.#emit(this.#pending);
    this.#pending = undefined;
  }

  #addHole(toSector: number): void {
    const lengthSectors = toSector - this.#cursorSector;
    this.#push({ volumeSector: this.#cursorSector, lengthSectors, sequence: HOLE_SEQUENCE, objectSector: 0 });
  }

  #push(run: MapRun): void {
    const pending = this.#pending;
    if (pending !== undefined && continues(pending, run)) {
      pending.lengthSectors += run.lengthSectors;
      return;
    }
    if (pending !== undefined) this.#emit(pending);
    this.#pending = run;
  }
}

function continues(before: MapRun, after: MapRun): boolean {
  if (before.volumeSector + before.lengthSectors !== after.volumeSector) return false;
  if (before.sequence !== after.sequence) return false;
  return after.sequence === HOLE_SEQUENCE || before.objectSector + before.lengthSectors === after.objectSector;
}
