/**
 * `lsvd run --attach fuse --mount <dir>` on a host whose kernel has no NBD driver: nbdfuse +
 * a loop device + ext4, against s3rver. Files written, SIGTERM, restart, every file intact,
 * `fsck.ext4 -fn` clean.
 */

import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { startS3rver } from '../helpers/s3rver.js';
import { logRecords, startDaemon, type DaemonProcess } from './helpers/daemon.js';
import { haveTool, run } from './helpers/tools.js';

const FILE_COUNT = 40;

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function devicePathOf(daemon: DaemonProcess): string {
  const record = logRecords(daemon.log()).find((entry) => String(entry['msg']).startsWith('Device operational'));
  const devicePath = record?.['devicePath'];
  if (typeof devicePath !== 'string') throw new Error(`no "Device operational" line in:\n${daemon.log()}`);
  return devicePath;
}

test('ext4 on lsvd through nbdfuse keeps every file across a clean restart and fsck finds nothing', async (t) => {
  t.timeout(300_000);
  for (const tool of ['nbdfuse', 'losetup', 'mkfs.ext4', 'fsck.ext4']) {
    if (!(await haveTool(tool))) { t.pass(`${tool} missing (outside CI)`); return; }
  }
  if (process.getuid?.() !== 0) {
    if (process.env['CI'] !== undefined) { t.fail('mounting needs root'); return; }
    { t.pass('not root (outside CI)'); return; }
  }
  const s3 = await startS3rver();
  const directory = await mkdtemp(join(tmpdir(), 'lsvd-fuse-'));
  const mountPoint = join(directory, 'mnt');
  const socketPath = join(directory, 'nbd.sock');
  const args = (extra: readonly string[]): string[] => ['run', '--store', `s3://${s3.bucket}/disk/`, '--endpoint', s3.endpoint, '--size', '512MiB',
    '--attach', 'fuse', '--socket', socketPath, '--run-dir', join(directory, 'run'), ...extra];
  const daemons: DaemonProcess[] = [];
  const start = async (extra: readonly string[]): Promise<DaemonProcess> => {
    const daemon = await startDaemon({ args: args(extra), socketPath, waitForLog: /lsvd is ready|"level":(50|60)/ });
    daemons.push(daemon);
    return daemon;
  };
  try {
    const first = await start(['--mount', mountPoint]);
    const sums = new Map<string, string>();
    await mkdir(join(mountPoint, 'tree/deeper'), { recursive: true });
    for (let index = 0; index < FILE_COUNT; index++) {
      const data = randomBytes(1 + ((index * 7919) % 300_000));
      const name = join(index % 2 === 0 ? 'tree' : 'tree/deeper', `file-${index}.bin`);
      await writeFile(join(mountPoint, name), data, { flush: true });
      sums.set(name, sha256(data));
    }
    const big = randomBytes(24 * 1024 * 1024);
    await writeFile(join(mountPoint, 'big.bin'), big, { flush: true });
    sums.set('big.bin', sha256(big));
    t.is(await first.stop('SIGTERM'), 0, first.log());
    t.regex(first.log(), /no filesystem found on .*: creating ext4/i);
    t.regex(first.log(), /Device has shut down\./);

    // Attached but not mounted: fsck reads the filesystem as recovered from the bucket.
    const unmounted = await start(['--no-mount']);
    await run('fsck.ext4', ['-fn', devicePathOf(unmounted)]);
    t.is(await unmounted.stop('SIGTERM'), 0, unmounted.log());

    const second = await start(['--mount', mountPoint]);
    t.notRegex(second.log(), /creating ext4/);
    const sizeBefore = (await statfs(mountPoint)).blocks;
    for (const [name, sum] of sums) t.is(sha256(await readFile(join(mountPoint, name))), sum, name);
    t.is(await second.stop('SIGTERM'), 0, second.log());

    // A larger --size grows the volume, and the filesystem with it, with nobody logging in.
    const grown = await start(['--mount', mountPoint, '--size', '768MiB']);
    t.regex(grown.log(), /Grew the volume from 536870912 to 805306368 bytes/);
    const sizeAfter = (await statfs(mountPoint)).blocks;
    t.true(sizeAfter > sizeBefore * 1.4, `ext4 grew from ${sizeBefore} to ${sizeAfter} blocks`);
    t.is(sha256(await readFile(join(mountPoint, 'big.bin'))), sums.get('big.bin') ?? 'no sum recorded');
    t.is(await grown.stop('SIGTERM'), 0, grown.log());
  } finally {
    for (const daemon of daemons) await daemon.stop('SIGTERM');
    await run('umount', [mountPoint]).catch(() => undefined);
    await s3.close();
    await rm(directory, { recursive: true, force: true });
  }
});
