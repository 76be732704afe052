import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import anyTest from 'ava';
import type { ExecutionContext, TestFn } from 'ava';
import { decodeLogObject } from '../../logformat/log-object.js';
import { CleanupStack } from '../../scripts/bench/cleanup.js';
import { runFio } from '../../scripts/bench/fio.js';
import { isMountPoint, mountNbdfuse } from '../../scripts/bench/fuse.js';
import { KIB_BYTES, MIB_BYTES, nbdUnixUri } from '../../scripts/bench/jobs.js';
import type { FioJob } from '../../scripts/bench/jobs.js';
import { startNbdkitMemory } from '../../scripts/bench/nbdkit.js';
import { copyPrefixOnDisk, FIXTURE_ENTRIES_PER_OBJECT, writeLogObjectFixture } from '../../scripts/bench/recovery-fixture.js';
import { mountS3backer } from '../../scripts/bench/s3backer.js';
import { createS3Client, startS3Environment } from '../../scripts/bench/s3-environment.js';
import type { S3Environment } from '../../scripts/bench/s3-environment.js';

const test = anyTest as TestFn<{ directory: string; cleanup: CleanupStack }>;

function installed(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A test that needs external tools: skipped with the reason when they are missing, failed in CI. */
function testWithTools(title: string, tools: readonly string[], body: (t: ExecutionContext<{ directory: string; cleanup: CleanupStack }>) => Promise<void>): void {
  const missing = tools.filter((tool) => !installed(tool));
  if (missing.length === 0) {
    test.serial(title, body);
  } else if (process.env['CI'] !== undefined) {
    test.serial(title, (t) => t.fail(`missing ${missing.join(', ')}: run scripts/install-debian-packages.sh`));
  } else {
    test.serial.skip(`${title} (skipped: ${missing.join(', ')} not installed; scripts/install-debian-packages.sh)`, body);
  }
}

test.beforeEach(async (t) => {
  t.context.directory = await mkdtemp(join(tmpdir(), 'lsvd-bench-tools-test-'));
  t.context.cleanup = new CleanupStack();
});

test.afterEach.always(async (t) => {
  const failures = await t.context.cleanup.runAll();
  await rm(t.context.directory, { recursive: true, force: true });
  if (failures.length > 0) {
    throw new Error(`cleanup failed: ${failures.join('; ')}`);
  }
});

const smallRandomWrites: FioJob = { name: 'small-rand-write', rw: 'randwrite', blockSizeBytes: 4 * KIB_BYTES, ioDepth: 8, regionBytes: 16 * MIB_BYTES, ioBytes: 256 * KIB_BYTES, endFsync: true };

testWithTools('one fio job runs unchanged through the nbd engine and through an nbdfuse file', ['fio', 'nbdkit', 'nbdfuse'], async (t) => {
  const { directory, cleanup } = t.context;
  const server = await startNbdkitMemory({ workDirectory: directory, sizeBytes: 64 * MIB_BYTES, cleanup });
  const viaNbd = await runFio({ job: smallRandomWrites, target: { kind: 'nbd', uri: nbdUnixUri(server.socketPath) } });
  const file = await mountNbdfuse({ socketPath: server.socketPath, workDirectory: directory, name: 'nbdkit', cleanup });
  t.true(await isMountPoint(file.mountDirectory));
  const viaFuse = await runFio({ job: smallRandomWrites, target: { kind: 'file', path: file.path } });
  for (const result of [viaNbd, viaFuse]) {
    t.is(result.write.ios, 64);
    t.is(result.write.ioBytes, 256 * KIB_BYTES);
    t.true(result.write.iops > 0 && result.runtimeMs >= 0);
  }
  await file.unmount();
  t.false(await isMountPoint(file.mountDirectory));
  t.not(file.process.child.exitCode ?? file.process.child.signalCode, null);
});

async function s3Environment(t: ExecutionContext<{ directory: string; cleanup: CleanupStack }>, latencyMs: number): Promise<S3Environment> {
  return startS3Environment({ workDirectory: t.context.directory, latencyMs, seed: 1, cleanup: t.context.cleanup });
}

testWithTools("s3backer mounts through the latency proxy, and waiting for its write-back covers the fsync it skips", ['fio', 's3backer', 'fusermount'], async (t) => {
  const { directory, cleanup } = t.context;
  const environment = await s3Environment(t, 20);
  const mount = await mountS3backer({ endpoint: environment.proxy.endpoint, bucket: environment.bucket, prefix: 'probe/', sizeBytes: 64 * MIB_BYTES, blockSizeBytes: 4 * KIB_BYTES, workDirectory: directory, name: 's3backer', cleanup });
  const result = await runFio({ job: smallRandomWrites, target: { kind: 'file', path: mount.path } });
  t.is(result.write.ios, 64);
  const writeBackMs = await mount.waitUntilWrittenBack(60_000);
  t.true(writeBackMs >= 0);
  const stats = await mount.readStats();
  t.is(stats['block_cache_dirty_ratio'], 0);
  // Every block of the job is in the bucket: 64 PUTs at least (s3backer also PUTs its mount token).
  t.true((stats['http_puts'] ?? 0) >= 64, JSON.stringify(stats));
  t.true((environment.proxy.stats().byMethod['PUT'] ?? 0) >= 64);
  await mount.unmount();
  t.false(await isMountPoint(mount.mountDirectory));
});

async function listAll(client: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let continuationToken: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(continuationToken === undefined ? {} : { ContinuationToken: continuationToken }) }));
    keys.push(...(page.Contents ?? []).map((object) => object.Key ?? ''));
    continuationToken = page.NextContinuationToken;
  } while (continuationToken !== undefined);
  return keys;
}

test.serial('the recovery fixture is a gap-free run of valid log objects that lists page by page and copies on disk', async (t) => {
  const environment = await s3Environment(t, 0);
  const client = createS3Client(environment.s3rverEndpoint);
  t.teardown(() => client.destroy());
  const objectCount = 1_001;
  const volumeSizeBytes = 64 * MIB_BYTES;
  await writeLogObjectFixture({ client, bucket: environment.bucket, prefix: 'fixture/', objectCount, volumeSizeBytes, seed: 3 });
  // More than one page: s3rver's continuation tokens need the legacy OpenSSL provider.
  const keys = await listAll(client, environment.bucket, 'fixture/');
  t.is(keys.length, objectCount + 1);
  t.true(keys.includes('fixture/volume.json'));
  const logKeys = keys.filter((key) => /^fixture\/[0-9a-f]{16}$/.test(key));
  t.deepEqual(logKeys, Array.from({ length: objectCount }, (_, index) => `fixture/${(index + 1).toString(16).padStart(16, '0')}`));
  const answer = await client.send(new GetObjectCommand({ Bucket: environment.bucket, Key: 'fixture/00000000000003e8' }));
  const decoded = decodeLogObject(await answer.Body!.transformToByteArray(), { objectKey: '00000000000003e8', volumeSizeBytes });
  t.is(decoded.entries.length, FIXTURE_ENTRIES_PER_OBJECT);
  const copied = await copyPrefixOnDisk({ s3rverDirectory: environment.directory, bucket: environment.bucket, fromPrefix: 'fixture/', toPrefix: 'copy/' });
  t.is(copied, objectCount + 1);
  t.is((await listAll(client, environment.bucket, 'copy/')).length, objectCount + 1);
  await t.throwsAsync(copyPrefixOnDisk({ s3rverDirectory: environment.directory, bucket: environment.bucket, fromPrefix: 'fixture/', toPrefix: 'copy/' }));
  t.true((await readdir(join(environment.directory, environment.bucket))).includes('copy'));
});
