/**
 * One paginated listing of the volume's keys, sorted into what recovery and rollback need.
 * Keys outside the format are ignored, with one warning, and never deleted (DESIGN.md §1).
 */
import type { Logger } from 'pino';
import { classifyKey } from '../logformat/keys.js';
import { SEQUENCE_FIRST } from '../logformat/limits.js';
import type { ObjectStore } from '../store/object-store.js';

export interface BucketScan {
  /** Sequence number → listed size in bytes. */
  logObjectSizes: Map<number, number>;
  /** Sequence numbers that have a `zeros/<seq>` companion. */
  zeroRangeSequences: Set<number>;
  unknownKeyCount: number;
}

/** Unknown keys named in the warning, so it stays one line. */
const UNKNOWN_KEYS_EXAMPLES_MAX = 3;

export async function scanBucket(options: { store: ObjectStore; logger: Logger }): Promise<BucketScan> {
  const scan: BucketScan = { logObjectSizes: new Map(), zeroRangeSequences: new Set(), unknownKeyCount: 0 };
  const unknownExamples: string[] = [];
  for await (const info of options.store.list()) {
    const kind = classifyKey(info.key);
    if (kind.kind === 'log') scan.logObjectSizes.set(kind.sequence, info.sizeBytes);
    else if (kind.kind === 'zero-ranges') scan.zeroRangeSequences.add(kind.sequence);
    else if (kind.kind === 'unknown') {
      scan.unknownKeyCount++;
      if (unknownExamples.length < UNKNOWN_KEYS_EXAMPLES_MAX) unknownExamples.push(info.key);
    }
  }
  if (scan.unknownKeyCount > 0) {
    options.logger.warn(
      { unknownKeyCount: scan.unknownKeyCount, examples: unknownExamples },
      `Ignoring ${scan.unknownKeyCount} keys in ${options.store.description} that are not part of the volume format (for example ${unknownExamples.map((key) => JSON.stringify(key)).join(', ')}); they are left alone.`,
    );
  }
  return scan;
}

/** The last sequence of the gap-free run from SEQUENCE_FIRST (SEQUENCE_FIRST - 1 when empty). */
export function prefixEnd(scan: BucketScan): number {
  let sequence = SEQUENCE_FIRST;
  while (scan.logObjectSizes.has(sequence)) sequence++;
  return sequence - 1;
}
