/**
 * Serialises read-modify-write of partial sectors (512-byte aligned requests).
 *
 * A write that covers part of a 4 KiB sector must read the sector, merge, and write it
 * back; two such writes to one sector running at once would each write back the other's
 * old bytes. A partial writer holds its whole sector range while it works; full-sector
 * writes, which apply synchronously, only wait until no held range overlaps theirs. Each
 * range is taken atomically (never piece by piece), so there is no lock ordering to get
 * wrong and no deadlock.
 */
import assert from 'node:assert/strict';

export interface SectorSpan {
  firstSector: number;
  endSector: number;
}

interface Held extends SectorSpan {
  released: Promise<void>;
}

export class RangeLocks {
  readonly #held = new Set<Held>();

  get heldCount(): number {
    return this.#held.size;
  }

  /** Waits until no held range overlaps `span`, then holds it; call the result to release. */
  async acquire(span: SectorSpan): Promise<() => void> {
    assert(span.firstSector < span.endSector);
    // Check and take in the same synchronous step: a continuation after an await runs later,
    // when another writer may have taken an overlapping range.
    for (let overlapping = this.#overlapping(span); overlapping.length > 0; overlapping = this.#overlapping(span)) {
      await Promise.all(overlapping.map((held) => held.released));
    }
    let release: () => void = () => {};
    const held: Held = { ...span, released: new Promise((resolve) => (release = resolve)) };
    this.#held.add(held);
    return () => {
      this.#held.delete(held);
      release();
    };
  }

  /**
   * Resolves when no held range overlaps `span`. The caller's continuation runs later, so a
   * caller that must act while the range is free re-checks with isFree() synchronously.
   */
  async waitFree(span: SectorSpan): Promise<void> {
    for (;;) {
      const overlapping = this.#overlapping(span);
      if (overlapping.length === 0) return;
      await Promise.all(overlapping.map((held) => held.released));
    }
  }

  /** True when nothing overlapping is held: the caller may apply a full-sector write now. */
  isFree(span: SectorSpan): boolean {
    return this.#held.size === 0 || this.#overlapping(span).length === 0;
  }

  #overlapping(span: SectorSpan): Held[] {
    const found: Held[] = [];
    for (const held of this.#held) {
      if (held.firstSector < span.endSector && span.firstSector < held.endSector) found.push(held);
    }
    return found;
  }
}
