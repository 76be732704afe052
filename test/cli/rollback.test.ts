/**
 * `lsvd rollback --to`: refused under a lease unless --force, only within the gap-free
 * prefix, prints what it moved to archive/, and afterwards `lsvd export` gives exactly the
 * earlier image.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { ARCHIVE_KEY_PREFIX, formatLogKey, formatZeroRangesKey, LEASE_KEY } from '../../logformat/keys.js';
import { encodeLease } from '../../logformat/lease.js';
import { FileStore } from '../../store/file-store.js';
import type { ObjectStore } from '../../store/object-store.js';
import { S3Store } from '../../store/s3-store.js';
import { openTestVolume } from '../daemon/helpers/volumes.js';
import { differenceOf, KIB, MIB, pattern } from '../daemon/helpers/world.js';
import { S3RVER_ACCESS_KEY_ID, S3RVER_SECRET_ACCESS_KEY, startS3rver } from '../helpers/s3rver.js';
import { errorLines, runLsvd } from './harness.js';

const VOLUME_SIZE_BYTES = 4 * MIB;

/** Four flushed steps of writes, each with a trim (so objects have companions); the image and last object after each. */
async function writeHistory(store: ObjectStore): Promise<{ states: Uint8Array[]; sequences: number[] }> {
  const volume = await openTestVolume({ store, sizeBytes: VOLUME_SIZE_BYTES });
  const model = new Uint8Array(VOLUME_SIZE_BYTES);
  const states = [model.slice()];
  const sequences = [0];
  for (let step = 1; step <= 4; step++) {
    for (let index = 0; index < 4; index++) {
      const offsetBytes = ((step * 53 + index * 211) % 900) * 4 * KIB;
      const data = pattern({ lengthBytes: (1 + ((step + index) % 5)) * 8 * KIB, tag: step * 10 + index });
      await volume.write(offsetBytes, data, { fua: false });
      model.set(data, offsetBytes);
    }
    await volume.trim(step * 128 * KIB, 16 * KIB, { fua: false });
    model.fill(0, step * 128 * KIB, step * 128 * KIB + 16 * KIB);
    await volume.flush();
    states.push(model.slice());
    sequences.push(volume.stats().lastSealedSequence);
  }
  await volume.close();
  return { states, sequences };
}

async function fileVolume(t: ExecutionContext): Promise<{ root: string; directory: string; states: Uint8Array[]; sequences: number[] }> {
  const root = mkdtempSync(join(tmpdir(), 'lsvd-rollback-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const directory = join(root, 'volume');
  const store = await FileStore.open(directory);
  const history = await writeHistory(store);
  await store.close();
  return { root, directory, ...history };
}

async function keysIn(directory: string): Promise<string[]> {
  const store = await FileStore.open(directory);
  const keys: string[] = [];
  for await (const info of store.list()) keys.push(info.key);
  await store.close();
  return keys;
}

async function putLease(directory: string): Promise<void> {
  const store = await FileStore.open(directory);
  await store.put(LEASE_KEY, encodeLease({ formatVersion: 1, holderId: '0123456789abcdef', hostname: 'db-7', pid: 4242, acquiredAt: '2025-01-01T00:00:00.000Z' }));
  await store.close();
}

async function exportedImage(t: ExecutionContext, options: { root: string; store: string; name: string; env?: Record<string, string> }): Promise<Uint8Array> {
  const output = join(options.root, options.name);
  const run = await runLsvd(['export', '--output', output, ...options.store.split(' ')], options.env === undefined ? {} : { env: options.env });
  t.is(run.exitCode, 0, run.stderr);
  return new Uint8Array(await readFile(output));
}

test('rollback refuses while a lease names a daemon, naming it, and changes nothing', async (t) => {
  const { directory } = await fileVolume(t);
  await putLease(directory);
  const before = await keysIn(directory);
  const run = await runLsvd(['rollback', '--store', directory, '--to', '1']);
  t.is(run.exitCode, 1);
  const lines = errorLines(run.stderr);
  t.is(lines.length, 1, run.stderr);
  t.regex(lines[0] ?? '', /held by lsvd on host "db-7" \(pid 4242.*--force.*\[ERR_LEASE_HELD\]$/);
  t.deepEqual(await keysIn(directory), before);
});

test('rollback --force under a lease moves every later object and companion to archive/ and prints them', async (t) => {
  const { directory, sequences } = await fileVolume(t);
  await putLease(directory);
  const to = sequences[2] ?? 0;
  const last = sequences[4] ?? 0;
  const run = await runLsvd(['rollback', '--store', directory, '--to', String(to), '--force']);
  t.is(run.exitCode, 0, run.stderr);
  const expectedMoved: string[] = [];
  for (let sequence = to + 1; sequence <= last; sequence++) expectedMoved.push(formatLogKey(sequence));
  const batch = /archive\/([^/\s]+)\//.exec(run.stdout)?.[1] ?? '';
  for (const key of [...expectedMoved, formatZeroRangesKey(last)]) t.true(run.stdout.includes(`  ${key} -> archive/${batch}/${key}`), `${key} listed as moved:\n${run.stdout}`);
  t.regex(run.stdout, new RegExp(`Rolled back .* to log object ${to}: moved \\d+ objects`));
  const keys = await keysIn(directory);
  t.false(keys.some((key) => expectedMoved.includes(key)), 'the later log objects are gone from the log');
  t.true(keys.every((key) => !key.startsWith('zeros/') || Number.parseInt(key.slice(6), 16) <= to), 'their companions too');
  t.true(keys.includes(LEASE_KEY), 'the lease is left alone');
  t.regex(run.stderr, /held by lsvd on host \\"db-7\\".*--force/, 'the override is logged');
});

test('export after a rollback equals the earlier image, for every earlier point', async (t) => {
  const { root, directory, states, sequences } = await fileVolume(t);
  for (const step of [3, 1, 0]) {
    const run = await runLsvd(['rollback', '--store', directory, '--to', String(sequences[step])]);
    t.is(run.exitCode, 0, run.stderr);
    const image = await exportedImage(t, { root, store: `--store ${directory}`, name: `image-${step}.raw` });
    t.is(differenceOf(image, states[step]), undefined, `after rollback to ${sequences[step]} (step ${step})`);
  }
});

test('rollback --to past the gap-free prefix is refused, and a rollback to the end moves nothing', async (t) => {
  const { directory, sequences } = await fileVolume(t);
  const last = sequences.at(-1) ?? 0;
  const past = await runLsvd(['rollback', '--store', directory, '--to', String(last + 1)]);
  t.is(past.exitCode, 1);
  t.regex(past.stderr, new RegExp(`runs from 1 to ${last}.*\\[ERR_ROLLBACK_TARGET_INVALID\\]`));
  const nothing = await runLsvd(['rollback', '--store', directory, '--to', formatLogKey(last)]);
  t.is(nothing.exitCode, 0, nothing.stderr);
  t.regex(nothing.stdout, new RegExp(`Nothing after log object ${last}`));
  t.false((await keysIn(directory)).some((key) => key.startsWith(ARCHIVE_KEY_PREFIX)));
  const malformed = await runLsvd(['rollback', '--store', directory, '--to', 'yesterday']);
  t.is(malformed.exitCode, 2);
  const missing = await runLsvd(['rollback', '--store', directory]);
  t.is(missing.exitCode, 2);
});

test('rollback --json lists the moved keys', async (t) => {
  const { directory, sequences } = await fileVolume(t);
  const to = sequences[3] ?? 0;
  const run = await runLsvd(['rollback', '--store', directory, '--to', String(to), '--json']);
  t.is(run.exitCode, 0, run.stderr);
  const result = JSON.parse(run.stdout) as { toSequence: number; archivedCount: number; moved: { key: string; archiveKey: string }[]; batchId: string };
  t.is(result.toSequence, to);
  t.is(result.moved.length, result.archivedCount);
  t.true(result.moved.some(({ key }) => key === formatLogKey(to + 1)));
  t.true(result.moved.every(({ key, archiveKey }) => archiveKey === `archive/${result.batchId}/${key}`));
});

test('rollback over the S3 API, then export, gives the earlier image', async (t) => {
  const server = await startS3rver();
  t.teardown(() => server.close());
  const store = new S3Store(server.storeConfig('vol1/'));
  const { states, sequences } = await writeHistory(store);
  await store.close();
  const root = mkdtempSync(join(tmpdir(), 'lsvd-rollback-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const env = { AWS_ACCESS_KEY_ID: S3RVER_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: S3RVER_SECRET_ACCESS_KEY };
  const storeArgs = `--store s3://${server.bucket}/vol1/ --endpoint ${server.endpoint}`;
  const run = await runLsvd(['rollback', '--to', String(sequences[2]), ...storeArgs.split(' ')], { env });
  t.is(run.exitCode, 0, run.stderr);
  t.is(differenceOf(await exportedImage(t, { root, store: storeArgs, name: 'image.raw', env }), states[2]), undefined);
});
