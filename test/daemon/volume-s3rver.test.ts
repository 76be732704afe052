/**
 * The engine against a real S3 HTTP API (s3rver on 127.0.0.1): write, close, reopen, every
 * byte back; deleting trailing log objects by hand and `rollback` give the same earlier
 * state; a gap archives what follows it.
 */
import test from 'ava';
import { ARCHIVE_KEY_PREFIX, classifyKey, formatLogKey, formatZeroRangesKey } from '../../logformat/keys.js';
import { S3Store } from '../../store/s3-store.js';
import type { ObjectStore } from '../../store/object-store.js';
import { RealClock } from '../../daemon/clock.js';
import { rollback } from '../../recovery/rollback.js';
import { startS3rver, type S3rverInstance } from '../helpers/s3rver.js';
import { openTestVolume } from './helpers/volumes.js';
import { differenceOf, KIB, MIB, pattern, silentLogger } from './helpers/world.js';

const VOLUME_SIZE_BYTES = 4 * MIB;

/** A fixed history: per step some writes and trims, then a flush (one or more objects). */
async function writeHistory(store: ObjectStore): Promise<{ states: Uint8Array[]; lastSequenceOfState: number[] }> {
  const volume = await openTestVolume({ store, sizeBytes: VOLUME_SIZE_BYTES });
  const model = new Uint8Array(VOLUME_SIZE_BYTES);
  const states: Uint8Array[] = [model.slice()];
  const lastSequenceOfState = [0];
  for (let step = 1; step <= 6; step++) {
    for (let index = 0; index < 5; index++) {
      const offsetBytes = ((step * 37 + index * 101) % 900) * 4 * KIB;
      const data = pattern({ lengthBytes: (1 + ((step + index) % 6)) * 8 * KIB, tag: step * 100 + index });
      await volume.write(offsetBytes, data, { fua: false });
      model.set(data, offsetBytes);
    }
    if (step % 2 === 0) {
      const offsetBytes = step * 64 * KIB;
      await volume.trim(offsetBytes, 48 * KIB, { fua: false });
      model.fill(0, offsetBytes, offsetBytes + 48 * KIB);
    }
    await volume.flush();
    states.push(model.slice());
    lastSequenceOfState.push(volume.stats().lastSealedSequence);
  }
  await volume.close();
  return { states, lastSequenceOfState };
}

async function imageOf(store: ObjectStore): Promise<Uint8Array> {
  const volume = await openTestVolume({ store });
  const image = await volume.read(0, VOLUME_SIZE_BYTES);
  await volume.close();
  return image;
}

async function keysOf(store: ObjectStore): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of store.list()) keys.push(info.key);
  return keys;
}

async function withS3rver(run: (server: S3rverInstance) => Promise<void>): Promise<void> {
  const server = await startS3rver();
  try {
    await run(server);
  } finally {
    await server.close();
  }
}

test('written data comes back byte for byte after close and reopen through S3', async (t) => {
  await withS3rver(async (server) => {
    const store = new S3Store(server.storeConfig('vol/'));
    const { states } = await writeHistory(store);
    t.is(differenceOf(await imageOf(store), states.at(-1)), undefined);
    await store.close();
  });
});

test('deleting trailing log objects by hand and rollback both give the volume as it was after that object', async (t) => {
  await withS3rver(async (server) => {
    const byHand = new S3Store(server.storeConfig('by-hand/'));
    const rolledBack = new S3Store(server.storeConfig('rolled-back/'));
    const { states, lastSequenceOfState } = await writeHistory(byHand);
    await writeHistory(rolledBack);
    const stateIndex = 3;
    const toSequence = lastSequenceOfState[stateIndex] ?? 0;
    const lastSequence = lastSequenceOfState.at(-1) ?? 0;
    t.true(lastSequence > toSequence);
    for (let sequence = toSequence + 1; sequence <= lastSequence; sequence++) await byHand.delete(formatLogKey(sequence));
    await rollback({ store: rolledBack, toSequence, logger: silentLogger(), clock: new RealClock(), batchId: 'rollback-test' });
    const expected = states[stateIndex];
    t.is(differenceOf(await imageOf(byHand), expected), undefined);
    t.is(differenceOf(await imageOf(rolledBack), expected), undefined);
    // By hand, the companions of deleted objects are archived by recovery; rollback archived them itself.
    for (const store of [byHand, rolledBack]) {
      const keys = await keysOf(store);
      t.false(keys.some((key) => classifyKey(key).kind === 'zero-ranges' && (classifyKey(key) as { sequence: number }).sequence > toSequence));
    }
    await byHand.close();
    await rolledBack.close();
  });
});

test('a gap in the log: objects after it are archived and the volume is as it was before the gap', async (t) => {
  await withS3rver(async (server) => {
    const store = new S3Store(server.storeConfig('gap/'));
    const { states, lastSequenceOfState } = await writeHistory(store);
    const missing = (lastSequenceOfState[2] ?? 0) + 1;
    await store.delete(formatLogKey(missing));
    t.is(differenceOf(await imageOf(store), states[2]), undefined);
    const keys = await keysOf(store);
    const lastSequence = lastSequenceOfState.at(-1) ?? 0;
    for (let sequence = missing + 1; sequence <= lastSequence; sequence++) {
      t.false(keys.includes(formatLogKey(sequence)));
      t.true(keys.some((key) => key.startsWith(ARCHIVE_KEY_PREFIX) && key.endsWith(`/${formatLogKey(sequence)}`)));
    }
    t.false(keys.some((key) => key === formatZeroRangesKey(missing + 1)));
    await store.close();
  });
});
