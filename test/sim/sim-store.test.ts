import test from 'ava';
import { calmProfile, outcomeOf, storeWorld } from './helpers.js';

const LOG_KEY = '0000000000000001';

test('a create-only PUT of an existing key is refused with ERR_STORE_PRECONDITION_FAILED and changes nothing', async (t) => {
  const world = storeWorld();
  const first = outcomeOf(world.store.put(LOG_KEY, Uint8Array.of(1), { createOnly: true }));
  await world.runUntilIdle();
  const second = outcomeOf(world.anotherProcess().put(LOG_KEY, Uint8Array.of(2), { createOnly: true }));
  await world.runUntilIdle();
  t.deepEqual(first.value, { status: 'fulfilled' });
  t.deepEqual(second.value, { status: 'rejected', code: 'ERR_STORE_PRECONDITION_FAILED' });
  t.deepEqual([...(world.bucket.peek(LOG_KEY)?.bytes ?? [])], [1]);
  t.deepEqual(world.violations, []);
});

test('a log object replaced with different bytes is reported as a violation', async (t) => {
  const world = storeWorld();
  void world.store.put(LOG_KEY, Uint8Array.of(1));
  await world.runUntilIdle();
  void world.anotherProcess().put(LOG_KEY, Uint8Array.of(2));
  await world.runUntilIdle();
  t.is(world.violations.length, 1);
  t.regex(world.violations[0] ?? '', /overwritten with different bytes/);
});

test('a lost acknowledgement stores the object while the caller sees a retryable error', async (t) => {
  const world = storeWorld({ profile: calmProfile({ lostAckProbability: 1 }) });
  const put = outcomeOf(world.store.put(LOG_KEY, Uint8Array.of(7), { createOnly: true }));
  await world.runUntilIdle();
  t.deepEqual(put.value, { status: 'rejected', code: 'ERR_STORE_UNAVAILABLE' });
  t.deepEqual([...(world.bucket.peek(LOG_KEY)?.bytes ?? [])], [7]);
  t.is(world.planner.counts['lost-ack'], 1);
});

test('answers come back in a different order than the requests were sent', async (t) => {
  const world = storeWorld({ seed: 3, profile: calmProfile({ latencySigma: 1.5 }) });
  const order: number[] = [];
  for (let index = 0; index < 20; index++) void world.store.put(`${index}`.padStart(16, '0'), Uint8Array.of(index)).then(() => order.push(index));
  await world.runUntilIdle();
  t.is(order.length, 20);
  t.notDeepEqual(order, [...order].sort((a, b) => a - b));
});

test('a crash lands or drops every unlanded PUT at once and fails every pending answer', async (t) => {
  const world = storeWorld({ seed: 5 });
  const puts = Array.from({ length: 40 }, (_, index) => outcomeOf(world.store.put(`${index + 1}`.padStart(16, '0'), Uint8Array.of(index), { createOnly: true })));
  world.store.crash();
  await world.runUntilIdle();
  t.true(puts.every((put) => put.value.status === 'rejected'));
  const landed = world.planner.counts['crash-landed'];
  t.is(landed + world.planner.counts['crash-dropped'], 40);
  t.true(landed > 0 && landed < 40, `${landed} of 40 landed`);
  t.is(world.bucket.keyCount, landed);
  // Nothing of the dead process reaches the bucket afterwards.
  const late = outcomeOf(world.store.put('0000000000000099', Uint8Array.of(1)));
  await world.runUntilIdle();
  t.deepEqual(late.value, { status: 'rejected', code: 'ERR_STORE_UNAVAILABLE' });
  t.is(world.bucket.keyCount, landed);
});

test('a request sent by an abandoned engine is reported as a violation', async (t) => {
  const world = storeWorld();
  world.store.noteAbandoned();
  world.store.crash();
  await world.store.get(LOG_KEY).catch(() => {});
  t.is(world.violations.length, 1);
  t.regex(world.violations[0] ?? '', /abandoned engine of process 1 sent GET/);
});

test('deleting a log object is a violation unless an identical copy sits under archive/', async (t) => {
  const world = storeWorld();
  void world.store.put(LOG_KEY, Uint8Array.of(1, 2));
  void world.store.put(`archive/batch/${LOG_KEY}`, Uint8Array.of(1, 9));
  void world.store.put('0000000000000002', Uint8Array.of(3));
  void world.store.put('archive/batch/0000000000000002', Uint8Array.of(3));
  await world.runUntilIdle();
  void world.store.delete(LOG_KEY);
  void world.store.delete('0000000000000002');
  await world.runUntilIdle();
  t.is(world.violations.length, 1);
  t.regex(world.violations[0] ?? '', /"0000000000000001" was deleted without an identical copy/);
  t.is(world.bucket.peek('0000000000000002'), undefined);
});

test('a zombie of a dead process lands just before the next process puts the same key, and only then', async (t) => {
  const zombies = new Map([[LOG_KEY, { key: LOG_KEY, bytes: Uint8Array.of(6), createOnly: true, processId: 0 }]]);
  const world = storeWorld({ zombies });
  const put = outcomeOf(world.store.put(LOG_KEY, Uint8Array.of(1), { createOnly: true }));
  await world.runUntilIdle();
  t.deepEqual(put.value, { status: 'rejected', code: 'ERR_STORE_PRECONDITION_FAILED' });
  t.deepEqual([...(world.bucket.peek(LOG_KEY)?.bytes ?? [])], [6]);
  t.deepEqual([...world.store.conflictingKeys], [LOG_KEY]);
  t.is(world.planner.counts['zombie-collision'], 1);
});

test('a LIST is answered page by page and sees every key in order', async (t) => {
  const world = storeWorld();
  for (const key of ['0000000000000003', '0000000000000001', 'volume.json', '0000000000000002', 'zeros/0000000000000001']) void world.store.put(key, Uint8Array.of(1));
  await world.runUntilIdle();
  const keys: string[] = [];
  const listing = (async () => {
    for await (const info of world.store.list()) keys.push(info.key);
  })();
  await world.runUntilIdle();
  await listing;
  t.deepEqual(keys, ['0000000000000001', '0000000000000002', '0000000000000003', 'volume.json', 'zeros/0000000000000001']);
});
