/**
 * The real Linux NBD client against the real daemon: `lsvd run --attach none` on s3rver;
 * Debian's kernel boots under qemu (TCG), attaches the export with nbd-client -b 4096, puts
 * ext4 on it and writes a tree of files (phase `write`), then disconnects. The daemon is
 * stopped with SIGTERM and started again (recovery from the bucket); a second boot checks the
 * filesystem and every checksum (phase `verify`).
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startS3rver } from '../helpers/s3rver.js';
import { startDaemon } from './helpers/daemon.js';
import { guestChecksums, guestPassed, prepareKernelVm, qemuArguments, runGuest } from '../../scripts/kernel-vm/run-guest.js';

const EXPORT_NAME = 'lsvd-e2e';
/** Each boot under TCG on two busy cores: about 15-35 s seen; the bound leaves room. */
const GUEST_TIMEOUT_MS = 180_000;
/** The first run downloads the kernel package; later runs only check the cache. */
const TEST_TIMEOUT_MS = 15 * 60_000;
const TOOLS = ['qemu-system-x86_64', 'socat', 'nbd-client', 'mke2fs', 'e2fsck', 'apt-get', 'dpkg-deb'];

const missing = TOOLS.filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
if (!existsSync('/bin/busybox')) missing.push('/bin/busybox (busybox-static)');
const vmTest = missing.length === 0 || process.env['CI'] !== undefined ? test : test.skip;
if (missing.length > 0) console.warn(`kernel-vm test skipped: missing ${missing.join(', ')} (it fails instead when CI is set)`);

vmTest('a real kernel writes an ext4 tree through nbd.ko to lsvd, and after a daemon restart a second boot finds it intact and fsck-clean', async (t) => {
  t.timeout(TEST_TIMEOUT_MS);
  await prepareKernelVm();
  const directory = await mkdtemp(join(tmpdir(), 'lsvd-kernel-vm-'));
  t.teardown(() => rm(directory, { recursive: true, force: true }));
  const socketPath = join(directory, 'nbd.sock');
  const s3 = await startS3rver();
  t.teardown(() => s3.close());
  const startLsvd = () => startDaemon({
    args: ['run', '--store', `s3://${s3.bucket}/kernel/`, '--endpoint', s3.endpoint, '--size', '256MiB', '--attach', 'none',
      '--export-name', EXPORT_NAME, '--socket', socketPath, '--run-dir', directory],
    socketPath,
  });
  const writer = await startLsvd();
  t.teardown(() => writer.stop('SIGKILL').then(() => undefined));

  const written = await runGuest({ socketPath, exportName: EXPORT_NAME, phase: 'write', timeoutMs: GUEST_TIMEOUT_MS, logPath: join(directory, 'write.log') });
  t.log(`write phase: ${(written.wallMs / 1000).toFixed(1)} s of wall time`);
  if (!written.passed) t.log(written.console.split('\n').slice(-40).join('\n'));
  t.true(written.passed, 'the write phase printed RESULT: PASS');

  t.is(await writer.stop('SIGTERM'), 0, writer.log());
  t.regex(writer.log(), /Device has shut down\./);
  const reader = await startLsvd();
  t.teardown(() => reader.stop('SIGKILL').then(() => undefined));
  t.regex(reader.log(), /Recovery complete \(processed [1-9]\d* objects\)/);

  const verified = await runGuest({ socketPath, exportName: EXPORT_NAME, phase: 'verify', timeoutMs: GUEST_TIMEOUT_MS, logPath: join(directory, 'verify.log') });
  t.log(`verify phase: ${(verified.wallMs / 1000).toFixed(1)} s of wall time`);
  if (!verified.passed) t.log(verified.console.split('\n').slice(-40).join('\n'));
  t.true(verified.passed, 'the verify phase printed RESULT: PASS');

  // The guest compared against the sums stored on the filesystem; the host also holds the sums
  // the writer printed, so a filesystem that lost files and its manifest together still fails.
  const writtenSums = guestChecksums(written.console);
  t.true(writtenSums.size > 40, `the writer printed ${writtenSums.size} checksums`);
  t.deepEqual(guestChecksums(verified.console), writtenSums);
  t.is(await reader.stop('SIGTERM'), 0, reader.log());
});

test('the guest passes only on its own RESULT: PASS line and no RESULT: FAIL', (t) => {
  t.true(guestPassed('boot\r\n@@ [3.1s] detached /dev/nbd0\r\n@@ [3.2s] RESULT: PASS\r\n[ 3.3] reboot: Power down\r\n'));
  t.false(guestPassed('@@ [3.2s] RESULT: FAIL e2fsck -fn rc=8\n'));
  t.false(guestPassed('a kernel line mentioning RESULT: PASS\n'));
  t.false(guestPassed(''));
});

test('the checksums a phase printed are read back as path to sha256', (t) => {
  const sum = 'a'.repeat(64);
  const sums = guestChecksums(`@@ SUM ${sum}  tree/d0/e0/f0.bin\r\nnoise\n@@ SUM ${'b'.repeat(64)}  big.bin\n@@ SUM short  x\n`);
  t.deepEqual([...sums], [['tree/d0/e0/f0.bin', sum], ['big.bin', 'b'.repeat(64)]]);
});

test('the guest reaches only the socket: restricted user networking forwards one address to socat', (t) => {
  const args = qemuArguments({ socketPath: '/run/lsvd/nbd.sock', exportName: 'vol1', phase: 'verify', timeoutMs: 1, kernelPath: '/k', initramfsPath: '/i' });
  t.true(args.includes('user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:10809-cmd:socat - UNIX-CONNECT:/run/lsvd/nbd.sock'));
  t.deepEqual(args.slice(0, 2), ['-accel', 'tcg']);
  t.true(args.includes('console=ttyS0 panic=-1 quiet loglevel=4 lsvd.phase=verify lsvd.export=vol1'));
  t.throws(() => qemuArguments({ socketPath: '/run/a,b.sock', phase: 'write', timeoutMs: 1, kernelPath: '/k', initramfsPath: '/i' }), { code: 'ERR_ASSERTION' });
  t.throws(() => qemuArguments({ socketPath: '/run/nbd.sock', exportName: 'two words', phase: 'write', timeoutMs: 1, kernelPath: '/k', initramfsPath: '/i' }), { code: 'ERR_ASSERTION' });
});
