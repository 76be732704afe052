/**
 * The reference model of the volume, per 512-byte unit: the value the unit had when the
 * current daemon process started serving (`base`), then every mutation of it since, in
 * order. The workload never runs two mutations of one 4 KiB sector at once, so the
 * mutations of a unit are sequential: each was answered before the next was sent.
 *
 * Time is a tick counter that moves at every request sent and every answer received. An
 * engine applies a mutation at one instant between its send tick and its answer tick. The
 * state after log objects 1..n is the set of mutations applied up to some instant T (object
 * boundaries are consistent points, DESIGN.md §1), so it is valid only if one T explains
 * every unit: a mutation it includes was sent before T; one it leaves out was answered
 * after T (a mutation that failed or never answered may fall on either side). `checkImage`
 * looks for that T; `checkRead` is read-your-writes with concurrency: a read may see any
 * value the unit had between the read's send and its answer.
 */
import { describeValue, GARBAGE_VALUE, UNIT_SIZE_BYTES } from './unit-pattern.js';

export interface ModelOp {
  /** The workload's operation number, for messages. */
  readonly opId: number;
  /** The write id, or ZERO_VALUE for TRIM and WRITE_ZEROES. */
  readonly value: number;
  readonly firstUnit: number;
  readonly unitCount: number;
  readonly issueTick: number;
  /** Infinity until answered with success; stays Infinity when it failed (it may have applied). */
  ackTick: number;
  settled: boolean;
  readonly fua: boolean;
}

/** An open interval of instants (lowTick, highTick). */
interface Interval {
  lowTick: number;
  highTick: number;
}

export class VolumeModel {
  readonly unitCount: number;
  #base: Uint32Array;
  readonly #history = new Map<number, ModelOp[]>();
  #tick = 0;
  /** Every mutation answered before this tick must survive a crash (FLUSH, FUA). */
  #durableTick = -Infinity;

  constructor(options: { unitCount: number }) {
    this.unitCount = options.unitCount;
    this.#base = new Uint32Array(options.unitCount);
  }

  /** Advances time by one event and returns the new tick. */
  tick(): number {
    return ++this.#tick;
  }

  hasHistory(unit: number): boolean {
    return this.#history.has(unit);
  }

  /** The units some mutation touched since the last reset. */
  touchedUnits(): IterableIterator<number> {
    return this.#history.keys();
  }

  issue(options: { opId: number; value: number; firstUnit: number; unitCount: number; fua: boolean }): ModelOp {
    const op: ModelOp = { ...options, issueTick: this.tick(), ackTick: Infinity, settled: false };
    for (let unit = op.firstUnit; unit < op.firstUnit + op.unitCount; unit++) {
      let history = this.#history.get(unit);
      if (history === undefined) this.#history.set(unit, (history = []));
      const previous = history.at(-1);
      if (previous !== undefined && !previous.settled) throw new Error(`model misuse: op #${op.opId} mutates unit ${unit} while op #${previous.opId} is in flight`);
      history.push(op);
    }
    return op;
  }

  acknowledge(op: ModelOp): void {
    op.ackTick = this.tick();
    op.settled = true;
    // FUA: this write and everything answered before it was sent sit in stored objects.
    if (op.fua) this.#durableTick = Math.max(this.#durableTick, op.issueTick);
  }

  fail(op: ModelOp): void {
    this.tick();
    op.settled = true;
  }

  /** A FLUSH sent at `issueTick` was answered with success. */
  flushed(issueTick: number): void {
    this.#durableTick = Math.max(this.#durableTick, issueTick);
  }

  /** The volume now holds `values` (a verified recovery): history starts again from there. */
  reset(values: Uint32Array): void {
    this.#base = values.slice();
    this.#history.clear();
    this.#durableTick = -Infinity;
  }

  /** Read-your-writes: a problem, or undefined when every unit holds a value it may hold. */
  checkRead(options: { issueTick: number; firstUnit: number; values: Uint32Array }): string | undefined {
    const { issueTick, firstUnit, values } = options;
    for (let index = 0; index < values.length; index++) {
      const unit = firstUnit + index;
      const value = values[index] ?? GARBAGE_VALUE;
      const history = this.#history.get(unit) ?? [];
      // The newest mutation answered before the read was sent, and anything after it.
      let position = history.length - 1;
      while (position >= 0 && !(history[position]!.ackTick < issueTick)) position--;
      const allowed = new Set<number>();
      for (let candidate = position; candidate < history.length; candidate++) allowed.add(this.#valueAt(unit, history, candidate));
      if (value !== GARBAGE_VALUE && allowed.has(value)) continue;
      return `unit ${unit} (byte ${unit * UNIT_SIZE_BYTES}) reads ${describeValue(value)}; it may hold only ${[...allowed].map(describeValue).join(' or ')} (${describeHistory(history)})`;
    }
    return undefined;
  }

  /**
   * Whether `image` (the whole volume, one value per unit) is the state after the mutations
   * applied up to one instant; with `durable`, also at or after every FLUSH / FUA answered.
   * `units` limits the check to those units (the rest must be untouched and equal `base`).
   */
  checkImage(image: Uint32Array, options: { durable: boolean; units?: Iterable<number> }): string | undefined {
    // The feasible instants: one interval (the usual case) or, once some unit allows
    // several, a union of them.
    let low = -Infinity;
    let high = Infinity;
    let union: Interval[] | undefined;
    const checked: number[] = [];
    for (const unit of options.units ?? range(this.unitCount)) {
      const value = image[unit] ?? GARBAGE_VALUE;
      const history = this.#history.get(unit);
      if (history === undefined) {
        if (value !== this.#base[unit]) return `unit ${unit} (byte ${unit * UNIT_SIZE_BYTES}) holds ${describeValue(value)} but was never mutated since it held ${describeValue(this.#base[unit] ?? 0)}`;
        continue;
      }
      const single = union === undefined ? this.#singleCandidate(unit, value) : undefined;
      if (single !== undefined) {
        low = Math.max(low, single.lowTick);
        high = Math.min(high, single.highTick);
        if (low < high) {
          checked.push(unit);
          continue;
        }
      }
      const candidates: Interval[] = [];
      this.#candidates({ unit, value, durable: options.durable, into: candidates });
      if (candidates.length === 0) {
        const floor = options.durable ? ' at or after the last FLUSH/FUA' : '';
        return `unit ${unit} (byte ${unit * UNIT_SIZE_BYTES}) holds ${describeValue(value)}, which it never held${floor} (${describeHistory(history)}; durable from t${this.#durableTick})`;
      }
      if (single !== undefined) return this.#describeConflict({ image, unit, candidates, checked, durable: options.durable });
      union = intersect(union ?? [{ lowTick: low, highTick: high }], candidates);
      if (union.length === 0) return this.#describeConflict({ image, unit, candidates, checked, durable: options.durable });
      checked.push(unit);
    }
    return undefined;
  }

  /**
   * The fast path: the last mutation of the unit was answered and the unit holds its value
   * (or it is the only candidate): the one interval of instants, without allocating a list.
   */
  #singleCandidate(unit: number, value: number): Interval | undefined {
    const history = this.#history.get(unit);
    const last = history?.at(-1);
    if (history === undefined || last === undefined || last.value !== value) return undefined;
    // Another position with the same value (zeros written twice) needs the general path.
    for (let position = history.length - 2; position >= -1; position--) if (this.#valueAt(unit, history, position) === value) return undefined;
    return { lowTick: last.issueTick, highTick: Infinity };
  }

  #valueAt(unit: number, history: readonly ModelOp[], position: number): number {
    return position < 0 ? (this.#base[unit] ?? 0) : history[position]!.value;
  }

  /** The instants at which `unit` holds `value`: one interval per matching position, added to `into`. */
  #candidates(options: { unit: number; value: number; durable: boolean; into: Interval[] }): void {
    const { unit, value, into } = options;
    const history = this.#history.get(unit) ?? [];
    const floor = options.durable ? this.#requiredPosition(history) : -1;
    let earliestAckAfter = Infinity;
    for (let position = history.length - 1; position >= floor; position--) {
      if (this.#valueAt(unit, history, position) === value) {
        into.push({ lowTick: position < 0 ? -Infinity : history[position]!.issueTick, highTick: earliestAckAfter });
      }
      if (position >= 0) earliestAckAfter = Math.min(earliestAckAfter, history[position]!.ackTick);
    }
  }

  /** The last position a crash may not lose: answered before the durable tick, or an answered FUA. */
  #requiredPosition(history: readonly ModelOp[]): number {
    for (let position = history.length - 1; position >= 0; position--) {
      const op = history[position]!;
      if (op.ackTick < this.#durableTick || (op.fua && op.ackTick !== Infinity)) return position;
    }
    return -1;
  }

  #describeConflict(options: { image: Uint32Array; unit: number; candidates: Interval[]; checked: number[]; durable: boolean }): string {
    const { image, unit, candidates } = options;
    const witness = options.checked.find((other) => {
      const otherCandidates: Interval[] = [];
      this.#candidates({ unit: other, value: image[other] ?? 0, durable: options.durable, into: otherCandidates });
      return intersect(otherCandidates, candidates).length === 0;
    });
    const describeUnit = (which: number) =>
      `unit ${which} (byte ${which * UNIT_SIZE_BYTES}) holds ${describeValue(image[which] ?? 0)} (${describeHistory(this.#history.get(which) ?? [])})`;
    return (
      `no single moment explains the image: ${describeUnit(unit)}` +
      (witness === undefined ? '' : `, but ${describeUnit(witness)}`) +
      ' — a mix of states the disk never had'
    );
  }
}

function* range(count: number): IterableIterator<number> {
  for (let index = 0; index < count; index++) yield index;
}

/** The intersection of two unions of open intervals, as a sorted union. */
function intersect(left: readonly Interval[], right: readonly Interval[]): Interval[] {
  const [onlyLeft] = left;
  const [onlyRight] = right;
  if (left.length === 1 && right.length === 1 && onlyLeft !== undefined && onlyRight !== undefined) {
    const lowTick = Math.max(onlyLeft.lowTick, onlyRight.lowTick);
    const highTick = Math.min(onlyLeft.highTick, onlyRight.highTick);
    return lowTick < highTick ? [{ lowTick, highTick }] : [];
  }
  const result: Interval[] = [];
  for (const a of left) {
    for (const b of right) {
      const lowTick = Math.max(a.lowTick, b.lowTick);
      const highTick = Math.min(a.highTick, b.highTick);
      if (lowTick < highTick) result.push({ lowTick, highTick });
    }
  }
  result.sort((a, b) => a.lowTick - b.lowTick);
  const merged: Interval[] = [];
  for (const interval of result) {
    const last = merged.at(-1);
    if (last !== undefined && interval.lowTick <= last.highTick) last.highTick = Math.max(last.highTick, interval.highTick);
    else merged.push({ ...interval });
  }
  return merged;
}

function describeHistory(history: readonly ModelOp[]): string {
  const recent = history.slice(-4).map((op) => `#${op.opId} ${describeValue(op.value)} t${op.issueTick}→${op.ackTick === Infinity ? (op.settled ? 'failed' : 'pending') : `t${op.ackTick}`}${op.fua ? ' FUA' : ''}`);
  return `history: ${history.length > 4 ? '…, ' : ''}${recent.join(', ') || 'none'}`;
}
