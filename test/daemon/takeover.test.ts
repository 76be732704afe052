/**
 * DESIGN.md §6: after a forced take-over, the old writer — still alive, with uploads pending —
 * is fenced at its next upload and stops acknowledging; the volume holds exactly the new
 * writer's view; no log object is ever overwritten.
 */
import test from 'ava';
import { openVolume } from '../../daemon/open-volume.js';
import { MemoryStore } from '../../store/memory-store.js';
import { differenceOf, MIB, pattern, SMALL_CONFIG, world } from './helpers/world.js';
import { openTestVolume } from './helpers/volumes.js';

const SIZE_BYTES = 16 * MIB;

function openTakingOver(store: MemoryStore, seed: number) {
  const base = world(seed);
  return openVolume({ store, ...base, config: SMALL_CONFIG, sizeBytes: SIZE_BYTES, fenceAfterTakeover: true });
}

test('the old writer is fenced at its next upload after a take-over, and the new writer keeps the volume', async (t) => {
  const store = new MemoryStore();
  const old = await openTestVolume({ store, sizeBytes: SIZE_BYTES, seed: 1 });
  const flushed = pattern({ lengthBytes: 256 * 1024, tag: 1 });
  await old.write(0, flushed, { fua: false });
  await old.flush();

  const successor = await openTakingOver(store, 2);
  const keysAfterTakeover = new Map([...store.snapshot()].map(([key, bytes]) => [key, Buffer.from(bytes).toString('hex')]));

  // The old writer does not know yet: its write is acknowledged from memory, its flush is not.
  await old.write(0, pattern({ lengthBytes: 64 * 1024, tag: 2 }), { fua: false });
  await t.throwsAsync(old.flush(), { code: 'ERR_VOLUME_FENCED' });
  t.like(await old.failure, { code: 'ERR_VOLUME_FENCED' });
  await t.throwsAsync(old.write(0, pattern({ lengthBytes: 4096, tag: 3 }), { fua: false }), { code: 'ERR_VOLUME_FENCED' });

  // Nothing the successor claimed was overwritten.
  for (const [key, hex] of keysAfterTakeover) t.is(Buffer.from(store.peek(key) ?? new Uint8Array()).toString('hex'), hex, key);

  const successorData = pattern({ lengthBytes: 64 * 1024, tag: 4 });
  await successor.write(512 * 1024, successorData, { fua: false });
  await successor.close();
  old.abandon();

  const reopened = await openTestVolume({ store, sizeBytes: SIZE_BYTES, seed: 3 });
  t.is(differenceOf(await reopened.read(0, flushed.length), flushed), undefined, 'what the old writer flushed before the take-over is there');
  t.is(differenceOf(await reopened.read(512 * 1024, successorData.length), successorData), undefined);
  await reopened.close();
});

/** A bucket where, once armed, the old writer's next object lands right after recovery has listed the keys. */
class OldWriterStillUploading extends MemoryStore {
  armed = false;

  override async *list(options?: Parameters<MemoryStore['list']>[0]): ReturnType<MemoryStore['list']> {
    yield* super.list(options);
    if (!this.armed) return;
    this.armed = false;
    const logKeys = this.keys().filter((key) => /^[0-9a-f]{16}$/.test(key));
    await this.put((logKeys.length + 1).toString(16).padStart(16, '0'), new Uint8Array(12288), { createOnly: true });
  }
}

test('a take-over stops rather than guess when the old writer stores an object during it', async (t) => {
  const store = new OldWriterStillUploading();
  const volume = await openTestVolume({ store, sizeBytes: SIZE_BYTES });
  await volume.write(0, pattern({ lengthBytes: 4096, tag: 1 }), { fua: false });
  await volume.flush();
  volume.abandon();
  const stored = store.keys().filter((key) => /^[0-9a-f]{16}$/.test(key)).length;
  store.armed = true;
  const strayKey = (stored + 1).toString(16).padStart(16, '0');
  await t.throwsAsync(openTakingOver(store, 5), { code: 'ERR_VOLUME_TAKEOVER_RACE', message: new RegExp(strayKey) });
  t.deepEqual(store.peek(strayKey), new Uint8Array(12288), "the old writer's object was not overwritten");
});
