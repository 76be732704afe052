import test from 'ava';
import pino from 'pino';
import { decodeLease, encodeLease } from '../../logformat/lease.js';
import { LEASE_KEY } from '../../logformat/keys.js';
import { MemoryStore } from '../../store/memory-store.js';
import { claimLease, readLease, releaseLease, type ClaimLeaseOptions, type LeaseHolder } from '../../recovery/lease.js';

const logger = pino({ level: 'silent' });
const hostA: LeaseHolder = { holderId: 'aaaaaaaaaaaaaaaa', hostname: 'host-a', pid: 100 };
const hostB: LeaseHolder = { holderId: 'bbbbbbbbbbbbbbbb', hostname: 'host-b', pid: 200 };

function options(store: MemoryStore, holder: LeaseHolder, overrides: Partial<ClaimLeaseOptions> = {}): ClaimLeaseOptions {
  return { store, holder, force: false, isProcessAlive: () => true, nowIso: () => '2026-01-01T00:00:00.000Z', logger, ...overrides };
}

test('the first daemon claims a free volume and the lease names it', async (t) => {
  const store = new MemoryStore();
  t.is(await claimLease(options(store, hostA)), 'claimed');
  t.like(await readLease(store), { holderId: hostA.holderId, hostname: 'host-a', pid: 100 });
});

test('a second daemon on another host is refused, naming the holder and the way out', async (t) => {
  const store = new MemoryStore();
  await claimLease(options(store, hostA));
  const error = await t.throwsAsync(claimLease(options(store, hostB)), { code: 'ERR_LEASE_HELD' });
  t.regex(error?.message ?? '', /host "host-a" \(pid 100/);
  t.regex(error?.message ?? '', /--force/);
  t.is((await readLease(store))?.holderId, hostA.holderId);
});

test('--force takes the volume over from a live holder', async (t) => {
  const store = new MemoryStore();
  await claimLease(options(store, hostA));
  t.is(await claimLease(options(store, hostB, { force: true })), 'taken-over');
  t.is((await readLease(store))?.holderId, hostB.holderId);
});

test('a lease left by a dead process on the same host is reclaimed without --force', async (t) => {
  const store = new MemoryStore();
  await claimLease(options(store, hostA));
  const restarted: LeaseHolder = { holderId: 'cccccccccccccccc', hostname: 'host-a', pid: 101 };
  t.is(await claimLease(options(store, restarted, { isProcessAlive: (pid) => pid !== 100 })), 'reclaimed-stale');
  t.is((await readLease(store))?.holderId, restarted.holderId);
});

test('a lease of a live process on the same host is still refused', async (t) => {
  const store = new MemoryStore();
  await claimLease(options(store, hostA));
  const second: LeaseHolder = { holderId: 'dddddddddddddddd', hostname: 'host-a', pid: 102 };
  await t.throwsAsync(claimLease(options(store, second)), { code: 'ERR_LEASE_HELD' });
});

test('release deletes only our own lease', async (t) => {
  const store = new MemoryStore();
  await claimLease(options(store, hostA));
  await claimLease(options(store, hostB, { force: true }));
  await releaseLease({ store, holder: hostA, logger });
  t.is((await readLease(store))?.holderId, hostB.holderId);
  await releaseLease({ store, holder: hostB, logger });
  t.is(await readLease(store), undefined);
});

test('a malformed lease is a typed error naming the key, and is left in place', async (t) => {
  const store = new MemoryStore();
  await store.put(LEASE_KEY, new TextEncoder().encode('{"formatVersion": 9}'));
  const error = await t.throwsAsync(claimLease(options(store, hostA)), { code: 'ERR_LEASE_INVALID' });
  t.regex(error?.message ?? '', /lease\.json/);
  t.true(store.keys().includes(LEASE_KEY));
});

test('the lease codec round-trips', (t) => {
  const lease = { formatVersion: 1 as const, ...hostA, acquiredAt: '2026-01-01T00:00:00.000Z' };
  t.deepEqual(decodeLease(encodeLease(lease), { objectKey: LEASE_KEY }), lease);
});
