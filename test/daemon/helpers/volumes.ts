/** Opening test volumes with the small config, and waiting on conditions without tight timing. */
import { openVolume } from '../../../daemon/open-volume.js';
import type { VolumeConfig } from '../../../daemon/volume-config.js';
import type { Volume } from '../../../daemon/volume.js';
import type { ObjectStore } from '../../../store/object-store.js';
import { MIB, SMALL_CONFIG, world } from './world.js';
import type { Clock } from '../../../daemon/clock.js';

export async function openTestVolume(options: { store: ObjectStore; config?: Partial<VolumeConfig>; sizeBytes?: number; clock?: Clock; seed?: number }): Promise<Volume> {
  const base = world(options.seed ?? 1);
  return openVolume({
    store: options.store,
    clock: options.clock ?? base.clock,
    random: base.random,
    logger: base.logger,
    config: { ...SMALL_CONFIG, ...options.config },
    sizeBytes: options.sizeBytes ?? 16 * MIB,
  });
}

/** Polls `condition` every few ms; fails after `timeoutMs` (generous: other tests share the CPU). */
export async function eventually(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Whether `promise` is still pending after the event loop has had `settleMs` to run. */
export async function isPending(promise: Promise<unknown>, settleMs = 50): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  return !settled;
}
