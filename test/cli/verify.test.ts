/**
 * `lsvd verify`: clean on a volume written through the engine (with live and stored bytes
 * right), exit 1 naming the key for each kind of damage, and never a change to the bucket.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { appendFile, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { formatLogKey, formatZeroRangesKey, LEASE_KEY, VOLUME_DESCRIPTOR_KEY } from '../../logformat/keys.js';
import { encodeLease } from '../../logformat/lease.js';
import { FileStore } from '../../store/file-store.js';
import type { ObjectStore } from '../../store/object-store.js';
import { S3Store } from '../../store/s3-store.js';
import { openTestVolume } from '../daemon/helpers/volumes.js';
import { KIB, MIB, pattern } from '../daemon/helpers/world.js';
import { S3RVER_ACCESS_KEY_ID, S3RVER_SECRET_ACCESS_KEY, startS3rver } from '../helpers/s3rver.js';
import { errorLines, runLsvd, type CliRun } from './harness.js';

/**
 * Three flushed steps: 16 KiB at 0 and 8 KiB at 1 MiB; a trim of 4 KiB at 4 KiB (a companion);
 * 4 KiB again at 1 MiB. Live: 12 + 8 KiB. Data stored: 16 + 8 + 4 KiB in objects 1..3.
 */
async function writeVolume(store: ObjectStore): Promise<void> {
  const volume = await openTestVolume({ store, sizeBytes: 8 * MIB });
  await volume.write(0, pattern({ lengthBytes: 16 * KIB, tag: 1 }), { fua: false });
  await volume.write(1 * MIB, pattern({ lengthBytes: 8 * KIB, tag: 2 }), { fua: false });
  await volume.flush();
  await volume.trim(4 * KIB, 4 * KIB, { fua: false });
  await volume.flush();
  await volume.write(1 * MIB, pattern({ lengthBytes: 4 * KIB, tag: 3 }), { fua: false });
  await volume.close();
}

const LIVE_BYTES = 20 * KIB;
const DATA_BYTES = 28 * KIB;

async function fileVolume(t: ExecutionContext): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), 'lsvd-verify-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const directory = join(root, 'volume');
  const store = await FileStore.open(directory);
  await writeVolume(store);
  await store.close();
  return directory;
}

async function contentsOf(directory: string): Promise<Map<string, string>> {
  const store = await FileStore.open(directory);
  const contents = new Map<string, string>();
  for await (const info of store.list()) contents.set(info.key, Buffer.from(await store.get(info.key)).toString('base64'));
  await store.close();
  return contents;
}

/** Runs `lsvd verify` and proves it changed nothing: keys and bytes identical before and after. */
async function verify(t: ExecutionContext, directory: string, extra: readonly string[] = []): Promise<CliRun> {
  const before = await contentsOf(directory);
  const run = await runLsvd(['verify', '--store', directory, ...extra]);
  t.deepEqual(await contentsOf(directory), before, 'verify changed nothing in the bucket');
  return run;
}

function expectFailureNaming(t: ExecutionContext, run: CliRun, key: string, code: string): void {
  t.is(run.exitCode, 1, run.stdout);
  const lines = errorLines(run.stderr);
  t.is(lines.length, 1, run.stderr);
  t.regex(lines[0] ?? '', /\[ERR_VERIFY_FAILED\]$/);
  t.true((lines[0] ?? '').includes(`${key} (${code})`), lines[0]);
  t.regex(run.stdout, new RegExp(`^${key.replace('/', '\\/')}\\s+${code}\\s`, 'm'));
}

test('verify is clean on a volume written through the engine and reports live and stored bytes', async (t) => {
  const directory = await fileVolume(t);
  const run = await verify(t, directory);
  t.is(run.exitCode, 0, run.stderr);
  t.regex(run.stdout, /problems: none, the volume is sound/);
  t.regex(run.stdout, /log objects: 3 \(highest 3\), no gaps; recovery replays 1\.\.3/);
  t.regex(run.stdout, /zero-range companions: 1, 0 without a log object/);
  t.regex(run.stdout, new RegExp(`bytes live: ${LIVE_BYTES} `));
  t.regex(run.stdout, new RegExp(`, ${DATA_BYTES} of them data`));
});

test('verify --json reports the same figures as one object', async (t) => {
  const directory = await fileVolume(t);
  const run = await verify(t, directory, ['--json']);
  t.is(run.exitCode, 0, run.stderr);
  const report = JSON.parse(run.stdout) as Record<string, unknown>;
  t.like(report, { logObjectCount: 3, prefixEndSequence: 3, gaps: [], liveBytes: LIVE_BYTES, logDataBytes: DATA_BYTES, zeroRangeKeyCount: 1, problems: [], archivedCount: 0 });
  t.is(report['storedBytes'], 3 * 12_288 + DATA_BYTES + 32);
});

test('verify exits 1 and names a truncated log object', async (t) => {
  const directory = await fileVolume(t);
  await truncate(join(directory, formatLogKey(2)), 12_288 - 1);
  await truncate(join(directory, formatLogKey(1)), 12_288 + 16 * KIB);
  expectFailureNaming(t, await verify(t, directory), formatLogKey(1), 'ERR_LOG_DATA_LENGTH');
  expectFailureNaming(t, await verify(t, directory), formatLogKey(2), 'ERR_LOG_HEADER_TRUNCATED');
});

test('verify exits 1 and names a padded log object', async (t) => {
  const directory = await fileVolume(t);
  await appendFile(join(directory, formatLogKey(3)), new Uint8Array(4096));
  const run = await verify(t, directory);
  expectFailureNaming(t, run, formatLogKey(3), 'ERR_LOG_DATA_LENGTH');
  t.regex(run.stdout, /bytes live: unknown/);
});

test('verify exits 1 and names a log object, companion, descriptor or lease that is garbage', async (t) => {
  const directory = await fileVolume(t);
  const garbage = pattern({ lengthBytes: 12_288 + 4096, tag: 99 });
  await writeFile(join(directory, formatLogKey(2)), garbage);
  await writeFile(join(directory, formatZeroRangesKey(2)), garbage.subarray(0, 40));
  await writeFile(join(directory, LEASE_KEY), '{"formatVersion": 7}');
  const run = await verify(t, directory, ['--json']);
  t.is(run.exitCode, 1);
  const problems = (JSON.parse(run.stdout) as { problems: { key: string; code: string }[] }).problems;
  t.deepEqual(
    problems.map(({ key, code }) => `${key} ${code}`),
    [`${LEASE_KEY} ERR_LEASE_INVALID`, `${formatLogKey(2)} ERR_LOG_ENTRY_UNALIGNED`, `${formatZeroRangesKey(2)} ERR_ZERO_RANGES_INVALID`],
  );
  await writeFile(join(directory, VOLUME_DESCRIPTOR_KEY), '{}');
  expectFailureNaming(t, await verify(t, directory), VOLUME_DESCRIPTOR_KEY, 'ERR_DESCRIPTOR_INVALID');
});

test('verify exits 1 on a gap, naming the missing object, and still checks the objects after it', async (t) => {
  const directory = await fileVolume(t);
  rmSync(join(directory, formatLogKey(2)));
  await truncate(join(directory, formatLogKey(3)), 12_288);
  const run = await verify(t, directory);
  expectFailureNaming(t, run, formatLogKey(2), 'ERR_VERIFY_GAP');
  t.true(errorLines(run.stderr)[0]?.includes(`${formatLogKey(3)} (ERR_LOG_DATA_LENGTH)`), 'the object after the gap was decoded too');
  t.regex(run.stdout, /recovery replays 1\.\.1; 1 after the first gap would be archived/);
  t.regex(run.stdout, new RegExp(`bytes live: ${24 * KIB} `), 'the prefix (object 1) still replays');
  t.regex(run.stdout, /^0000000000000002\s+ERR_VERIFY_GAP[^\n]*\nzeros\/0000000000000002\s+ERR_VERIFY_ORPHAN_COMPANION[^\n]*\n0000000000000003\s/m, 'problems in key order');
});

test('verify exits 1 on a companion without its log object', async (t) => {
  const directory = await fileVolume(t);
  const store = await FileStore.open(directory);
  await store.put(formatZeroRangesKey(9), await store.get(formatZeroRangesKey(2)));
  await store.close();
  const run = await verify(t, directory);
  expectFailureNaming(t, run, formatZeroRangesKey(9), 'ERR_VERIFY_ORPHAN_COMPANION');
  t.regex(run.stdout, /zero-range companions: 2, 1 without a log object/);
});

test('verify reports a lease holder, archived objects and unknown keys without failing', async (t) => {
  const directory = await fileVolume(t);
  const store = await FileStore.open(directory);
  await store.put(LEASE_KEY, encodeLease({ formatVersion: 1, holderId: 'abcdef0123456789', hostname: 'db-1', pid: 42, acquiredAt: '2025-01-01T00:00:00.000Z' }));
  await store.put('archive/20250101T000000Z-00000000/0000000000000009', new Uint8Array(12_288));
  await store.put('notes.txt', new TextEncoder().encode('hello'));
  await store.close();
  const run = await verify(t, directory);
  t.is(run.exitCode, 0, run.stderr);
  t.regex(run.stdout, /lease\.json: held by lsvd on host "db-1" \(pid 42/);
  t.regex(run.stdout, /archived objects: 1/);
  t.regex(run.stdout, /unknown keys: 1 \("notes\.txt"; ignored, never deleted\)/);
});

test('verify an empty directory: no volume.json is a problem', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'lsvd-verify-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const run = await verify(t, root);
  expectFailureNaming(t, run, VOLUME_DESCRIPTOR_KEY, 'ERR_VOLUME_DESCRIPTOR_MISSING');
});

test('verify over the S3 API finds an object truncated in the bucket', async (t) => {
  const server = await startS3rver();
  t.teardown(() => server.close());
  const store = new S3Store(server.storeConfig('vol1/'));
  t.teardown(() => store.close());
  await writeVolume(store);
  const env = { AWS_ACCESS_KEY_ID: S3RVER_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: S3RVER_SECRET_ACCESS_KEY };
  const args = ['verify', '--store', `s3://${server.bucket}/vol1/`, '--endpoint', server.endpoint];
  const clean = await runLsvd(args, { env });
  t.is(clean.exitCode, 0, clean.stderr);
  const key = formatLogKey(1);
  await store.put(key, (await store.get(key)).subarray(0, 12_288 + 100));
  const run = await runLsvd(args, { env });
  t.is(run.exitCode, 1);
  t.true(errorLines(run.stderr)[0]?.includes(`${key} (ERR_LOG_DATA_LENGTH)`), run.stderr);
});
