/**
 * The client's requests: writes, reads, FLUSH, TRIM and WRITE_ZEROES (some FUA), of mixed
 * sizes, 512-byte or 4 KiB aligned, half of them in a hot region so they overlap. A
 * mutation is never sent while another one touching the same 4 KiB sector is in flight
 * (what a filesystem does too), which keeps the model exact; reads overlap anything.
 */
import type { SeededRandom } from '../../daemon/clock.js';
import { SECTOR_SIZE_BYTES } from '../../logformat/limits.js';
import type { OperationMix, RunParameters } from './parameters.js';
import { UNIT_SIZE_BYTES } from './unit-pattern.js';

export type OperationKind = keyof OperationMix;

export interface Operation {
  opId: number;
  kind: OperationKind;
  offsetBytes: number;
  lengthBytes: number;
  fua: boolean;
  /** WRITE_ZEROES with NBD_CMD_FLAG_NO_HOLE. */
  noHole: boolean;
  /** Read through readInto (the NBD server's path) instead of read. */
  readInto: boolean;
}

export interface SectorSpan {
  firstSector: number;
  endSector: number;
}

/** Mutations sent with FUA. */
const FUA_PROBABILITY = 0.15;
/** Requests that fall in the hot region (the first HOT_REGION_FRACTION of the volume). */
const HOT_REGION_PROBABILITY = 0.5;
const HOT_REGION_FRACTION = 1 / 8;
/** Medium requests are at most this large. */
const MEDIUM_REQUEST_MAX_BYTES = 64 * 1024;
/** Large reads span several objects but stay this small (checking a read costs per byte). */
const LARGE_READ_MAX_BYTES = 256 * 1024;
/** Attempts at a range no in-flight mutation touches before settling for a read. */
const FREE_RANGE_ATTEMPTS = 8;

export function sectorSpanOf(operation: { offsetBytes: number; lengthBytes: number }): SectorSpan {
  return {
    firstSector: Math.floor(operation.offsetBytes / SECTOR_SIZE_BYTES),
    endSector: Math.ceil((operation.offsetBytes + operation.lengthBytes) / SECTOR_SIZE_BYTES),
  };
}

export class Workload {
  readonly #random: SeededRandom;
  readonly #parameters: RunParameters;
  readonly #busy = new Set<SectorSpan>();
  #nextOpId = 1;

  constructor(options: { random: SeededRandom; parameters: RunParameters }) {
    this.#random = options.random;
    this.#parameters = options.parameters;
  }

  /** Marks a mutation's sectors busy until the returned function is called. */
  hold(span: SectorSpan): () => void {
    this.#busy.add(span);
    return () => this.#busy.delete(span);
  }

  next(): Operation {
    const kind = this.#kind();
    const opId = this.#nextOpId++;
    const random = this.#random;
    if (kind === 'flush' || kind === 'restart') return { opId, kind, offsetBytes: 0, lengthBytes: 0, fua: false, noHole: false, readInto: false };
    if (kind === 'read') return { opId, kind, ...this.#range('read'), fua: false, noHole: false, readInto: random.nextFloat() < 0.5 };
    for (let attempt = 0; attempt < FREE_RANGE_ATTEMPTS; attempt++) {
      const range = this.#range(kind);
      if (this.#isFree(sectorSpanOf(range))) return { opId, kind, ...range, fua: random.nextFloat() < FUA_PROBABILITY, noHole: random.nextFloat() < 0.5, readInto: false };
    }
    return { opId, kind: 'read', ...this.#range('read'), fua: false, noHole: false, readInto: false };
  }

  /** A pause before the next request, on the simulated clock. */
  thinkMs(): number {
    const random = this.#random;
    const { thinkMeanMs, idlePauseProbability, config } = this.#parameters;
    if (random.nextFloat() < idlePauseProbability) return (config.idleSealMs ?? 1000) * (1 + random.nextFloat() * 2);
    return -Math.log(1 - random.nextFloat()) * thinkMeanMs;
  }

  #kind(): OperationKind {
    const entries = Object.entries(this.#parameters.mix) as [OperationKind, number][];
    const total = entries.reduce((sum, [, weight]) => sum + weight, 0);
    let roll = this.#random.nextFloat() * total;
    for (const [kind, weight] of entries) {
      roll -= weight;
      if (roll < 0) return kind;
    }
    return 'read';
  }

  #range(kind: OperationKind): { offsetBytes: number; lengthBytes: number } {
    const random = this.#random;
    const { volumeSizeBytes, unalignedProbability, config } = this.#parameters;
    const unitBytes = random.nextFloat() < unalignedProbability ? UNIT_SIZE_BYTES : SECTOR_SIZE_BYTES;
    const volumeUnits = volumeSizeBytes / unitBytes;
    const roll = random.nextFloat();
    const objectBytes = config.targetObjectSizeBytes ?? SECTOR_SIZE_BYTES;
    let lengthUnits: number;
    if (roll < 0.6) lengthUnits = 1 + random.nextInt(8);
    else if (roll < 0.9) lengthUnits = 1 + random.nextInt(Math.max(1, Math.floor(MEDIUM_REQUEST_MAX_BYTES / unitBytes)));
    else if (kind === 'write') lengthUnits = 1 + random.nextInt(Math.max(1, Math.floor((2 * objectBytes) / unitBytes)));
    else if (kind === 'read') lengthUnits = 1 + random.nextInt(Math.floor(LARGE_READ_MAX_BYTES / unitBytes));
    else lengthUnits = 1 + random.nextInt(volumeUnits);
    lengthUnits = Math.min(lengthUnits, volumeUnits);
    // Many requests fall in the hot region, so they overlap often.
    const regionUnits = random.nextFloat() < HOT_REGION_PROBABILITY ? Math.max(lengthUnits, Math.floor(volumeUnits * HOT_REGION_FRACTION)) : volumeUnits;
    const offsetUnits = random.nextInt(regionUnits - lengthUnits + 1);
    return { offsetBytes: offsetUnits * unitBytes, lengthBytes: lengthUnits * unitBytes };
  }

  #isFree(span: SectorSpan): boolean {
    for (const busy of this.#busy) if (busy.firstSector < span.endSector && span.firstSector < busy.endSector) return false;
    return true;
  }
}
