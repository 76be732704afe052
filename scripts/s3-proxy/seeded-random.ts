/**
 * A small seeded pseudo-random generator (mulberry32), so that a proxy or benchmark run given the
 * same seed injects the same sequence of delays and faults.
 */

import assert from 'node:assert/strict';

/** Returns a function that yields numbers in [0, 1), the same sequence for the same seed. */
export function createSeededRandom(seed: number): () => number {
  assert(Number.isInteger(seed), `seed must be an integer, got ${seed}`);
  let state = seed >>> 0;
  return function next(): number {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}
