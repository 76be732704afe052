/**
 * Does this store really enforce create-only puts? (DESIGN.md §6)
 *
 * lsvd fences a second writer by creating every log object with `If-None-Match: *`. Some S3
 * clones accept the header and ignore it, which silently disables the fence, so the daemon
 * probes at start-up and warns loudly when it is not enforced.
 */
import { StoreError } from './errors.js';
import type { ObjectStore } from './object-store.js';

/** Probe objects live under this folder of the store root, one per probe, deleted afterwards. */
export const PROBE_KEY_PREFIX = 'probe/';

export interface CreateOnlyProbeResult {
  enforced: boolean;
}

export interface CreateOnlyProbeOptions {
  /** Unique per probe (e.g. a random id), a single valid key segment; names the key `probe/<probeId>`. */
  probeId: string;
}

/**
 * Puts `probe/<probeId>` twice with createOnly: enforced means the second put was refused
 * with ERR_STORE_PRECONDITION_FAILED. (If even the first is refused, the key was left by an
 * earlier probe that crashed, which proves enforcement as well.) The key is deleted after.
 * Any other store error propagates: the probe does not guess.
 */
export async function probeCreateOnly(store: ObjectStore, options: CreateOnlyProbeOptions): Promise<CreateOnlyProbeResult> {
  const key = `${PROBE_KEY_PREFIX}${options.probeId}`;
  if (options.probeId.includes('/')) {
    throw new StoreError('ERR_STORE_INVALID_KEY', `The probe id ${JSON.stringify(options.probeId)} must be a single key segment`, { key });
  }
  let result: CreateOnlyProbeResult;
  try {
    result = await putTwice(store, { key, probeId: options.probeId });
  } catch (error) {
    // Report why the probe failed, not a follow-on failure of the clean-up.
    await store.delete(key).catch(() => undefined);
    throw error;
  }
  await store.delete(key);
  return result;
}

async function putTwice(store: ObjectStore, probe: { key: string; probeId: string }): Promise<CreateOnlyProbeResult> {
  if (await isRefused(store.put(probe.key, probeBody(probe.probeId, 1), { createOnly: true }))) return { enforced: true };
  return { enforced: await isRefused(store.put(probe.key, probeBody(probe.probeId, 2), { createOnly: true })) };
}

async function isRefused(put: Promise<void>): Promise<boolean> {
  try {
    await put;
    return false;
  } catch (error) {
    if (error instanceof StoreError && error.code === 'ERR_STORE_PRECONDITION_FAILED') return true;
    throw error;
  }
}

function probeBody(probeId: string, attempt: number): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify({ probe: 'create-only', probeId, attempt })}\n`);
}
