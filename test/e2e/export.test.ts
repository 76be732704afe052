/**
 * The operator tools end to end, as an operator runs them: the built program serves a volume
 * on s3rver, real NBD clients write and discard, SIGTERM; then `lsvd export` rebuilds the raw
 * image without a daemon and `qemu-img compare` finds it identical; then one log object is
 * overwritten in the bucket with truncated bytes (through the S3 API) and `lsvd verify`
 * exits 1 naming it.
 */

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import test from 'ava';
import { S3RVER_ACCESS_KEY_ID, S3RVER_REGION, S3RVER_SECRET_ACCESS_KEY, startS3rver } from '../helpers/s3rver.js';
import { LSVD_BIN, s3Environment, startDaemon } from './helpers/daemon.js';
import { haveTool, nbdUri, run } from './helpers/tools.js';

const MIB = 1024 * 1024;
const VOLUME_SIZE_BYTES = 64 * MIB;
const CLI_TIMEOUT_MS = 120_000;

/** The built CLI with the s3rver environment; resolves with its exit code and output (never rejects on exit 1). */
function lsvd(args: readonly string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [LSVD_BIN, ...args], { env: s3Environment(), timeout: CLI_TIMEOUT_MS, maxBuffer: 16 * MIB }, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== 'number') reject(error);
      else resolve({ exitCode: error === null ? 0 : Number(error.code), stdout, stderr });
    });
  });
}

test('an image written over NBD exports identical after SIGTERM, and verify names an object truncated in the bucket', async (t) => {
  for (const tool of ['nbdcopy', 'qemu-io', 'qemu-img']) {
    if (!(await haveTool(tool))) {
      t.pass(`${tool} missing (outside CI)`);
      return;
    }
  }
  const s3 = await startS3rver();
  const directory = await mkdtemp(join(tmpdir(), 'lsvd-export-e2e-'));
  t.teardown(async () => {
    await s3.close();
    await rm(directory, { recursive: true, force: true });
  });
  const store = ['--store', `s3://${s3.bucket}/vol1/`, '--endpoint', s3.endpoint];
  const socketPath = join(directory, 'nbd.sock');

  const written = randomBytes(24 * MIB);
  const writtenPath = join(directory, 'written.bin');
  await writeFile(writtenPath, written);
  const daemon = await startDaemon({ args: ['run', ...store, '--size', '64MiB', '--attach', 'none', '--socket', socketPath, '--run-dir', directory], socketPath });
  try {
    await run('nbdcopy', ['--flush', writtenPath, nbdUri(socketPath)]);
    await run('qemu-io', ['-f', 'raw', '-c', 'discard 2M 3M', '-c', 'write -z 20M 256k', '-c', 'flush', nbdUri(socketPath)]);
  } finally {
    t.is(await daemon.stop('SIGTERM'), 0, daemon.log());
  }
  const expected = Buffer.alloc(VOLUME_SIZE_BYTES);
  written.copy(expected);
  expected.fill(0, 2 * MIB, 5 * MIB);
  expected.fill(0, 20 * MIB, 20 * MIB + 256 * 1024);
  const expectedPath = join(directory, 'expected.raw');
  await writeFile(expectedPath, expected);

  const imagePath = join(directory, 'image.raw');
  const exported = await lsvd(['export', ...store, '--output', imagePath]);
  t.is(exported.exitCode, 0, exported.stderr);
  t.regex(await run('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', imagePath, expectedPath]), /Images are identical/);

  const client = new S3Client({ region: S3RVER_REGION, endpoint: s3.endpoint, forcePathStyle: true, credentials: { accessKeyId: S3RVER_ACCESS_KEY_ID, secretAccessKey: S3RVER_SECRET_ACCESS_KEY } });
  t.teardown(() => client.destroy());
  const listed = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'vol1/' }));
  const logKeys = (listed.Contents ?? []).map((object) => object.Key ?? '').filter((key) => /^vol1\/[0-9a-f]{16}$/.test(key));
  t.true(logKeys.length >= 2, `log objects: ${logKeys.join(', ')}`);
  const victim = logKeys[Math.floor(logKeys.length / 2)] ?? '';
  const body = (await (await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: victim }))).Body?.transformToByteArray()) ?? new Uint8Array();
  await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: victim, Body: body.subarray(0, (body.byteLength >> 1) + 1) }));

  const verified = await lsvd(['verify', ...store]);
  t.is(verified.exitCode, 1, verified.stdout);
  const victimKey = victim.slice('vol1/'.length);
  const errorLine = verified.stderr.split('\n').find((line) => line.startsWith('error:')) ?? '';
  t.true(errorLine.includes(`${victimKey} (ERR_LOG_DATA_LENGTH)`), verified.stderr);
  t.regex(verified.stdout, new RegExp(`^${victimKey}\\s+ERR_LOG_DATA_LENGTH`, 'm'));
});
