/**
 * The check after every start-up (DESIGN.md §3 "Prefix recovery", "No silent loss"):
 * 1. recovery replayed exactly the bucket's gap-free prefix 1..n, and left no log object or
 *    companion after it (they must have been archived);
 * 2. the volume, read through the engine, equals the simulator's own replay of objects
 *    1..n (reference-replay.ts);
 * 3. that state is one the model allows at or after the last FLUSH/FUA answered (nothing
 *    acknowledged as durable is lost, and it is not a mix of states).
 * Then the model starts again from this state.
 */
import { classifyKey } from '../../logformat/keys.js';
import type { ClientContextImpl } from './context.js';
import type { DaemonProcess } from './daemon-process.js';
import { codeOf, describe } from './error-text.js';
import type { VolumeModel } from './model.js';
import { bucketPrefixEnd, type PrefixTracker, replayPrefix } from './reference-replay.js';
import type { SimBucket } from './sim-bucket.js';
import type { RunStats } from './simulation.js';
import { decodeUnits, describeValue, UNIT_SIZE_BYTES } from './unit-pattern.js';

/** Whole-volume reads retried after EIO (the store kept failing) before the run gives up. */
const VERIFY_READ_ATTEMPTS_MAX = 10;

export interface VerifyOptions {
  process: DaemonProcess;
  bucket: SimBucket;
  model: VolumeModel;
  prefix: PrefixTracker;
  context: ClientContextImpl;
  stats: RunStats;
  violation(message: string): void;
  trace(line: string): void;
}

/** True when the process may serve; false when it died meanwhile or a violation was reported. */
export async function verifyRecovery(options: VerifyOptions): Promise<boolean> {
  const { process, bucket, model, violation } = options;
  const volume = process.volume;
  if (volume === undefined) return false;
  const lastSequence = volume.stats().lastUploadedSequence;
  const prefixEnd = bucketPrefixEnd(bucket);
  if (prefixEnd !== lastSequence) {
    violation(`recovery of process ${process.processId} replayed objects 1..${lastSequence}, but the bucket's gap-free prefix is 1..${prefixEnd}`);
    return false;
  }
  for (const key of bucket.keys()) {
    const kind = classifyKey(key);
    if ((kind.kind === 'log' || kind.kind === 'zero-ranges') && kind.sequence > lastSequence) {
      violation(`recovery of process ${process.processId} left "${key}" after the replayed prefix 1..${lastSequence} (it must be archived)`);
      return false;
    }
  }
  const bytes = await readWholeVolume(options);
  if (bytes === undefined || !process.alive) return false;
  const image = decodeUnits(bytes, 0);
  let expected: Uint32Array;
  try {
    expected = replayPrefix({ bucket, lastSequence, unitCount: model.unitCount });
  } catch (error) {
    violation(`the bucket's objects 1..${lastSequence} cannot be replayed: ${describe(error)}`);
    return false;
  }
  const unit = image.findIndex((value, index) => value !== expected[index]);
  if (unit !== -1) {
    violation(
      `after recovery, process ${process.processId} reads unit ${unit} (byte ${unit * UNIT_SIZE_BYTES}) as ${describeValue(image[unit] ?? 0)}, ` +
        `but the bucket's objects 1..${lastSequence} say ${describeValue(expected[unit] ?? 0)}`,
    );
    return false;
  }
  const problem = model.checkImage(image, { durable: true });
  if (problem !== undefined) {
    violation(`after recovery of objects 1..${lastSequence} (process ${process.processId}): ${problem}`);
    return false;
  }
  model.reset(image);
  options.prefix.reset({ state: image, lastSequence });
  options.context.prefixChecksSuspended = false;
  process.lastSequenceAtOpen = lastSequence;
  process.auditedThroughSequence = lastSequence;
  options.stats.recoveriesVerified++;
  options.trace(`process ${process.processId} verified: objects 1..${lastSequence}`);
  return true;
}

async function readWholeVolume(options: VerifyOptions): Promise<Uint8Array | undefined> {
  const { process, violation, stats } = options;
  const volume = process.volume;
  if (volume === undefined) return undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      return await volume.read(0, volume.sizeBytes);
    } catch (error) {
      if (!process.alive) return undefined;
      if (codeOf(error) !== 'ERR_VOLUME_READ_FAILED' || attempt === VERIFY_READ_ATTEMPTS_MAX) {
        violation(`reading the recovered volume of process ${process.processId} failed: ${describe(error)}`);
        return undefined;
      }
      stats.readFailures++;
    }
  }
}
