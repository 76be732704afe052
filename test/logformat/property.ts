import type { ExecutionContext } from 'ava';
import fc from 'fast-check';

/**
 * Runs a fast-check property inside an ava test. The seed comes from `LSVD_TEST_SEED` (to
 * replay a run) or is fresh; it is printed with the test so any failure can be replayed.
 */
export function checkProperty<Ts extends [unknown, ...unknown[]]>(
  t: ExecutionContext,
  property: fc.IProperty<Ts>,
  options: { numRuns: number },
): void {
  const fromEnvironment = process.env['LSVD_TEST_SEED'];
  const seed = fromEnvironment === undefined ? (Date.now() ^ (process.pid << 8)) | 0 : Number.parseInt(fromEnvironment, 10);
  t.log(`seed ${seed} (replay with LSVD_TEST_SEED=${seed})`);
  t.notThrows(() => fc.assert(property, { seed, numRuns: options.numRuns }));
}
