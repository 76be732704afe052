/**
 * `lsvd run` end to end, as an operator runs it: the built program against s3rver (a real S3
 * HTTP server on loopback), real NBD clients, SIGTERM, restart, and the data is all there.
 */

import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { startS3rver, type S3rverInstance } from '../helpers/s3rver.js';
import { logRecords, s3Environment, startDaemon } from './helpers/daemon.js';
import { haveTool, nbdUri, run } from './helpers/tools.js';

const MIB = 1024 * 1024;

async function withS3rver(use: (s3: S3rverInstance, directory: string) => Promise<void>): Promise<void> {
  const s3 = await startS3rver();
  const directory = await mkdtemp(join(tmpdir(), 'lsvd-run-'));
  try {
    await use(s3, directory);
  } finally {
    await s3.close();
    await rm(directory, { recursive: true, force: true });
  }
}

function runArgs(s3: S3rverInstance, directory: string, extra: readonly string[] = []): string[] {
  return ['run', '--store', `s3://${s3.bucket}/vol1/`, '--endpoint', s3.endpoint, '--size', '256MiB', '--attach', 'none',
    '--socket', join(directory, 'nbd.sock'), '--run-dir', directory, ...extra];
}

test('data written over NBD survives SIGTERM and a restart, trims included, and the shutdown is clean', async (t) => {
  if (!(await haveTool('nbdcopy')) || !(await haveTool('qemu-io'))) { t.pass('nbdcopy/qemu-io missing (outside CI)'); return; }
  await withS3rver(async (s3, directory) => {
    const socketPath = join(directory, 'nbd.sock');
    const image = randomBytes(32 * MIB);
    const imagePath = join(directory, 'image.bin');
    await writeFile(imagePath, image);

    const first = await startDaemon({ args: runArgs(s3, directory), socketPath });
    await run('nbdcopy', ['--flush', imagePath, nbdUri(socketPath)]);
    // A discard and a write-zeroes: both must read back as zeros after the restart.
    await run('qemu-io', ['-f', 'raw', '-c', 'discard 1M 1M', '-c', 'write -z 8M 512k', '-c', 'flush', nbdUri(socketPath)]);
    image.fill(0, 1 * MIB, 2 * MIB);
    image.fill(0, 8 * MIB, 8 * MIB + 512 * 1024);
    t.is(await first.stop('SIGTERM'), 0, first.log());
    const firstLog = first.log();
    t.regex(firstLog, /Device has shut down\./);
    t.regex(firstLog, /accepts and ignores If-None-Match/, 's3rver ignores create-only puts: the daemon must say fencing is weaker');
    t.false(firstLog.includes('S3RVER"'), 'no credential appears in the log');

    const second = await startDaemon({ args: runArgs(s3, directory), socketPath });
    try {
      const secondLog = second.log();
      t.regex(secondLog, /Recovery complete \(processed [1-9]\d* objects\)/);
      const outPath = join(directory, 'out.bin');
      await run('nbdcopy', [nbdUri(socketPath), outPath]);
      const back = await readFile(outPath);
      t.true(back.subarray(0, image.length).equals(image), 'every byte written (and trimmed) comes back');
      t.true(back.subarray(image.length).every((byte) => byte === 0), 'the never-written rest reads as zeros');
    } finally {
      t.is(await second.stop('SIGTERM'), 0, second.log());
    }
  });
});

test('a second daemon on the same volume refuses to start and names the holder', async (t) => {
  await withS3rver(async (s3, directory) => {
    const socketPath = join(directory, 'nbd.sock');
    const holder = await startDaemon({ args: runArgs(s3, directory), socketPath });
    try {
      const other = await startDaemon({ args: runArgs(s3, directory, ['--socket', join(directory, 'other.sock')]), socketPath: join(directory, 'other.sock'), waitForSocket: false });
      t.is(await other.exited, 1);
      t.regex(other.log(), /held by lsvd on host ".+" \(pid \d+/);
      t.regex(other.log(), /--force/);
      t.regex(other.log(), /ERR_LEASE_HELD/);
    } finally {
      t.is(await holder.stop('SIGTERM'), 0, holder.log());
    }
    // Released on a clean shutdown: the next daemon starts without --force.
    const next = await startDaemon({ args: runArgs(s3, directory), socketPath });
    t.is(await next.stop('SIGTERM'), 0, next.log());
  });
});

test('a bad flag is one clear line and exit code 2, before anything is touched', async (t) => {
  const daemon = await startDaemon({ args: ['run', '--store', 'memory:', '--attach', 'sideways'], socketPath: '/nonexistent', waitForSocket: false });
  t.is(await daemon.exited, 2);
  const lines = daemon.log().trim().split('\n');
  t.is(lines.length, 1);
  t.regex(lines[0] ?? '', /--attach must be one of auto, kernel, fuse, none/);
});

test('the log is NDJSON with the start-up sequence an operator reads, and the runtime directory is created', async (t) => {
  await withS3rver(async (s3, directory) => {
    const socketPath = join(directory, 'not-yet', 'nbd.sock');
    const daemon = await startDaemon({ args: runArgs(s3, directory, ['--socket', socketPath]), socketPath });
    t.is(await daemon.stop('SIGTERM'), 0);
    const messages = logRecords(daemon.log()).map((record) => String(record['msg']));
    const order = [/^Starting lsvd/, /^Starting recovery from/, /^Recovery complete/, /^Serving NBD on/, /^Received SIGTERM/, /^Device has shut down/];
    let position = 0;
    for (const pattern of order) {
      const found = messages.findIndex((message, index) => index >= position && pattern.test(message));
      t.true(found >= 0, `log has ${pattern} in order:\n${messages.join('\n')}`);
      position = Math.max(found, position);
    }
  });
});

test('--force takes the volume over and the old daemon, still running, is fenced and exits 1', async (t) => {
  if (!(await haveTool('qemu-io'))) { t.pass('qemu-io missing (outside CI)'); return; }
  const directory = await mkdtemp(join(tmpdir(), 'lsvd-takeover-'));
  try {
    const volume = join(directory, 'volume');
    const args = (name: string, extra: readonly string[] = []): string[] => ['run', '--store', volume, '--size', '64MiB', '--attach', 'none',
      '--socket', join(directory, `${name}.sock`), '--run-dir', directory, ...extra];
    const old = await startDaemon({ args: args('old'), socketPath: join(directory, 'old.sock') });
    await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x11 0 1M', '-c', 'flush', nbdUri(join(directory, 'old.sock'))]);
    const successor = await startDaemon({ args: args('new', ['--force']), socketPath: join(directory, 'new.sock') });
    t.regex(successor.log(), /Taking the volume over from lsvd on host/);
    t.regex(successor.log(), /Fenced the previous holder/);
    // The old daemon acknowledges the write from memory, but its flush can never complete.
    await t.throwsAsync(run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x22 0 1M', '-c', 'flush', nbdUri(join(directory, 'old.sock'))]));
    t.is(await old.exited, 1, old.log());
    t.regex(old.log(), /ERR_VOLUME_FENCED/);
    const read = await run('qemu-io', ['-f', 'raw', '-c', 'read -P 0x11 0 1M', nbdUri(join(directory, 'new.sock'))]);
    t.regex(read, /read 1048576\/1048576/);
    t.is(await successor.stop('SIGTERM'), 0, successor.log());
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test('credentials never appear in the logs of a full run at trace level, nor in --help', async (t) => {
  const secret = 'lsvd-secret-key-that-must-never-be-printed';
  await withS3rver(async (s3, directory) => {
    const socketPath = join(directory, 'nbd.sock');
    // s3rver checks the access key id but not the signature, so any secret key works.
    const env = { ...s3Environment(), AWS_SECRET_ACCESS_KEY: secret, LSVD_LOG_LEVEL: 'trace' };
    const daemon = await startDaemon({ args: runArgs(s3, directory), socketPath, env });
    if (await haveTool('qemu-io')) {
      await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x33 0 256k', '-c', 'flush', '-c', 'read -P 0x33 0 256k', nbdUri(socketPath)]);
    }
    t.is(await daemon.stop('SIGTERM'), 0, daemon.log());
    const help = await startDaemon({ args: ['run', '--help'], socketPath, env, waitForSocket: false });
    t.is(await help.exited, 0);
    for (const output of [daemon.log(), help.log()]) {
      t.false(output.includes(secret), 'the secret key is never printed');
    }
    t.true(daemon.log().split('\n').length > 20, 'a trace-level log was actually written');
  });
});

test('a SIGTERM during start-up is a clean shutdown once start-up has finished, not a sudden death', async (t) => {
  await withS3rver(async (s3, directory) => {
    const socketPath = join(directory, 'nbd.sock');
    const daemon = await startDaemon({ args: runArgs(s3, directory), socketPath, waitForLog: /Starting lsvd/ });
    daemon.child.kill('SIGTERM');
    t.is(await daemon.exited, 0, daemon.log());
    t.regex(daemon.log(), /Device has shut down\./);
  });
});
