/**
 * attachFuse, hasFilesystem, makeFilesystem, mountFilesystem and growFilesystemIfNeeded against
 * real tools, as root: nbdkit serves the export (a stand-in server that is not under test here),
 * nbdfuse + losetup attach it, ext4 lives on it.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, readdir, rm, statfs, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { runCommand } from '../../daemon/attach/command.js';
import type { AttachError } from '../../daemon/attach/index.js';
import {
  attachFuse, attachKernel, growFilesystemIfNeeded, hasFilesystem, kernelNbdAvailable, makeFilesystem, mountFilesystem,
} from '../../daemon/attach/index.js';
import { loopDevicesBackedBy } from '../../daemon/attach/loop.js';
import { isMountPoint, readMounts, settlesWithin, waitUntil } from '../../daemon/attach/system.js';

const TOOLS = ['nbdkit', 'nbdfuse', 'nbdinfo', 'losetup', 'mkfs.ext4', 'fsck.ext4', 'blkid', 'dumpe2fs', 'resize2fs', 'fusermount3', 'nbd-client'];
const NBDKIT_READY_TIMEOUT_MS = 10_000;
const NBDKIT_STOP_TIMEOUT_MS = 5_000;
const MIB = 1024 * 1024;

function missingPrerequisites(): string[] {
  const missing = TOOLS.filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
  if (process.getuid?.() !== 0) missing.push('root');
  for (const path of ['/dev/fuse', '/dev/loop-control']) if (!existsSync(path)) missing.push(path);
  return missing;
}

const missing = missingPrerequisites();
const integration = missing.length === 0 || process.env['CI'] !== undefined ? test.serial : test.serial.skip;
if (missing.length > 0) {
  console.warn(`attach tests skipped: missing ${missing.join(', ')} (they fail instead when CI is set)`);
}

function captureLogger(): { logger: Logger; messages: string[] } {
  const messages: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => messages.push((JSON.parse(line) as { msg: string }).msg) });
  return { logger, messages };
}

/** nbdkit in the foreground, dying with this process; -P is written once it accepts connections. */
async function startNbdkit(t: ExecutionContext, options: { directory: string; pluginArgs: string[] }): Promise<{ socketPath: string; stop(): Promise<void> }> {
  const socketPath = join(options.directory, 'nbdkit.sock');
  const pidPath = join(options.directory, 'nbdkit.pid');
  // nbdkit leaves both files behind when it exits; a stale pid file would look ready.
  await rm(pidPath, { force: true });
  await rm(socketPath, { force: true });
  const child = spawn('nbdkit', ['--foreground', '--exit-with-parent', '-U', socketPath, '-P', pidPath, ...options.pluginArgs], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderrText = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderrText += chunk.toString('utf8');
  });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  // nbdkit waits for its clients before it exits: a client left by a failed test gets SIGKILL.
  const stop = async (): Promise<void> => {
    child.kill('SIGTERM');
    if (!(await settlesWithin(exited, NBDKIT_STOP_TIMEOUT_MS))) child.kill('SIGKILL');
    await exited;
  };
  t.teardown(async () => {
    await forceCleanup(options.directory);
    await stop();
  });
  t.true(await waitUntil({ check: async () => existsSync(pidPath), timeoutMs: NBDKIT_READY_TIMEOUT_MS }), `nbdkit did not start: ${stderrText}`);
  return { socketPath, stop };
}

/** Whatever a failed test left under `directory`: ext4 mounts, loop devices, FUSE mounts. */
async function forceCleanup(directory: string): Promise<void> {
  const quiet = async (command: string, args: string[]): Promise<void> => {
    await runCommand({ command, args, timeoutMs: 30_000 }).then(() => undefined, () => undefined);
  };
  const mounts = (await readMounts()).filter((mount) => mount.mountPoint.startsWith(`${directory}/`)).reverse();
  for (const mount of mounts.filter((entry) => !entry.fsType.startsWith('fuse'))) await quiet('umount', ['-l', mount.mountPoint]);
  for (const mount of mounts.filter((entry) => entry.fsType.startsWith('fuse'))) {
    for (const loop of await loopDevicesBackedBy(join(mount.mountPoint, 'disk'))) await quiet('losetup', ['-d', loop]);
  }
  for (const mount of mounts.filter((entry) => entry.fsType.startsWith('fuse'))) await quiet('fusermount3', ['-u', '-z', mount.mountPoint]);
  const left = (await readMounts()).filter((mount) => mount.mountPoint.startsWith(`${directory}/`));
  if (left.length === 0) await runCommand({ command: 'rm', args: ['-rf', directory], timeoutMs: 30_000 });
}

async function workDirectory(t: ExecutionContext): Promise<string> {
  const directory = await mkdtemp('/tmp/lsvd-attach-');
  t.teardown(() => forceCleanup(directory));
  return directory;
}

/** Nothing of an attach is left: no loop device on the FUSE file, no FUSE mount, no pid file. */
async function assertNothingLeft(t: ExecutionContext, runDirectory: string): Promise<void> {
  t.deepEqual(await loopDevicesBackedBy(join(runDirectory, 'nbd', 'disk')), []);
  t.false(await isMountPoint(join(runDirectory, 'nbd')));
  t.false(existsSync(join(runDirectory, 'nbdfuse.pid')));
}

/** xorshift32: files whose every block differs, replayable from the printed seed. */
function pseudoRandomBytes(seed: number, lengthBytes: number): Buffer {
  const bytes = Buffer.alloc(lengthBytes);
  let state = seed >>> 0 || 1;
  for (let offset = 0; offset + 4 <= lengthBytes; offset += 4) {
    state ^= state << 13; state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5; state >>>= 0;
    bytes.writeUInt32LE(state, offset);
  }
  return bytes;
}

function testSeed(t: ExecutionContext): number {
  const seed = process.env['LSVD_TEST_SEED'] === undefined ? Math.floor(Math.random() * 2 ** 32) : Number(process.env['LSVD_TEST_SEED']);
  t.log(`seed ${seed} (replay with LSVD_TEST_SEED=${seed})`);
  return seed;
}

/** Writes files of varied sizes plus one of 8 MiB, fsyncs each, returns name → sha256. */
async function writeFiles(directory: string, seed: number): Promise<Map<string, string>> {
  const sums = new Map<string, string>();
  const sizes = [0, 1, 4095, 4096, 4097, 65_536, 100_000, 1 * MIB, 3 * MIB + 17, 8 * MIB];
  await mkdir(join(directory, 'tree', 'nested'), { recursive: true });
  for (const [index, sizeBytes] of sizes.entries()) {
    const name = join('tree', index % 2 === 0 ? '' : 'nested', `file-${index}.bin`);
    const content = pseudoRandomBytes(seed + index, sizeBytes);
    const handle = await open(join(directory, name), 'w');
    await handle.writeFile(content);
    await handle.sync();
    await handle.close();
    sums.set(name, createHash('sha256').update(content).digest('hex'));
  }
  return sums;
}

async function readSums(directory: string, names: Iterable<string>): Promise<Map<string, string>> {
  const sums = new Map<string, string>();
  for (const name of names) sums.set(name, createHash('sha256').update(await readFile(join(directory, name))).digest('hex'));
  return sums;
}

async function fsckClean(devicePath: string): Promise<number> {
  const result = await runCommand({ command: 'fsck.ext4', args: ['-fn', devicePath], timeoutMs: 120_000, okExitCodes: [0, 1, 2, 4, 8] });
  return result.exitCode;
}

integration('a volume attached with nbdfuse and a loop device keeps its ext4 filesystem and files across detach and attach', async (t) => {
  const directory = await workDirectory(t);
  const seed = testSeed(t);
  const server = await startNbdkit(t, { directory, pluginArgs: ['memory', '256M'] });
  const runDirectory = join(directory, 'run');
  const mountPoint = join(directory, 'mnt');
  const { logger, messages } = captureLogger();

  const first = await attachFuse({ socketPath: server.socketPath, exportName: 'vol', runDirectory, logger });
  t.regex(first.devicePath, /^\/dev\/loop\d+$/);
  t.false(await hasFilesystem(first.devicePath));
  await makeFilesystem({ devicePath: first.devicePath, logger, devicePrezeroed: true });
  t.true(await hasFilesystem(first.devicePath));
  const written = await mountFilesystem({ devicePath: first.devicePath, mountPoint, logger });
  const sums = await writeFiles(mountPoint, seed);
  await runCommand({ command: 'sync', args: ['-f', mountPoint], timeoutMs: 30_000 });
  await written.unmount();
  t.false(await isMountPoint(mountPoint));
  await first.detach();
  await assertNothingLeft(t, runDirectory);

  const second = await attachFuse({ socketPath: server.socketPath, exportName: 'vol', runDirectory, logger });
  t.true(await hasFilesystem(second.devicePath));
  const reread = await mountFilesystem({ devicePath: second.devicePath, mountPoint, logger });
  t.deepEqual(await readSums(mountPoint, sums.keys()), sums);
  await reread.unmount();
  t.is(await fsckClean(second.devicePath), 0, 'fsck.ext4 -fn finds the filesystem clean');
  await second.detach();
  await second.detach();
  await assertNothingLeft(t, runDirectory);

  t.true(messages.includes(`no filesystem found on ${first.devicePath}: creating ext4`));
  t.true(messages.includes(`mounting ${second.devicePath} on ${mountPoint}`));
  t.true(messages.includes(`unmounting ${mountPoint}`));
});

function hasCapSysResource(): boolean {
  const match = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return match?.[1] !== undefined && ((BigInt(`0x${match[1]}`) >> 24n) & 1n) === 1n;
}

integration('a filesystem made at 256 MiB grows to fill the export served again at 512 MiB, online where permitted and offline', async (t) => {
  const directory = await workDirectory(t);
  const imagePath = join(directory, 'disk.img');
  const runDirectory = join(directory, 'run');
  const mountPoint = join(directory, 'mnt');
  const { logger } = captureLogger();
  await writeFile(imagePath, '');
  await truncate(imagePath, 256 * MIB);

  const small = await startNbdkit(t, { directory, pluginArgs: ['file', imagePath] });
  const first = await attachFuse({ socketPath: small.socketPath, exportName: '', runDirectory, logger });
  await makeFilesystem({ devicePath: first.devicePath, logger });
  const mounted = await mountFilesystem({ devicePath: first.devicePath, mountPoint, logger });
  await writeFile(join(mountPoint, 'kept.txt'), 'written at 256 MiB\n');
  t.deepEqual(await growFilesystemIfNeeded({ devicePath: first.devicePath, mountPoint, logger }), { grown: false });
  const smallBlocks = (await statfs(mountPoint)).blocks;
  await mounted.unmount();
  await first.detach();
  await small.stop();

  await truncate(imagePath, 512 * MIB);
  const big = await startNbdkit(t, { directory, pluginArgs: ['file', imagePath] });
  const second = await attachFuse({ socketPath: big.socketPath, exportName: '', runDirectory, logger });
  let remounted = await mountFilesystem({ devicePath: second.devicePath, mountPoint, logger });
  if (hasCapSysResource()) {
    t.deepEqual(await growFilesystemIfNeeded({ devicePath: second.devicePath, mountPoint, logger }), { grown: true });
  } else {
    t.log('no CAP_SYS_RESOURCE here: online resize must refuse, offline resize must work');
    await t.throwsAsync(growFilesystemIfNeeded({ devicePath: second.devicePath, mountPoint, logger }), { code: 'ERR_ATTACH_RESIZE_NOT_PERMITTED' });
    await writeFile(join(mountPoint, 'still-writable.txt'), 'yes\n');
    await remounted.unmount();
    t.deepEqual(await growFilesystemIfNeeded({ devicePath: second.devicePath, mountPoint, logger }), { grown: true });
    remounted = await mountFilesystem({ devicePath: second.devicePath, mountPoint, logger });
  }
  const bigBlocks = (await statfs(mountPoint)).blocks;
  t.true(bigBlocks > smallBlocks * 1.9, `the filesystem grew from ${smallBlocks} to ${bigBlocks} blocks`);
  t.is(await readFile(join(mountPoint, 'kept.txt'), 'utf8'), 'written at 256 MiB\n');
  t.deepEqual(await growFilesystemIfNeeded({ devicePath: second.devicePath, mountPoint, logger }), { grown: false });
  await remounted.unmount();
  t.is(await fsckClean(second.devicePath), 0, 'fsck.ext4 -fn finds the grown filesystem clean');
  await second.detach();
  await assertNothingLeft(t, runDirectory);
});

integration('an unmount retries while a file is open, reports ERR_ATTACH_UNMOUNT_BUSY, and succeeds once it is closed', async (t) => {
  const directory = await workDirectory(t);
  const server = await startNbdkit(t, { directory, pluginArgs: ['memory', '64M'] });
  const runDirectory = join(directory, 'run');
  const mountPoint = join(directory, 'mnt');
  const { logger, messages } = captureLogger();
  const device = await attachFuse({ socketPath: server.socketPath, exportName: 'vol', runDirectory, logger });
  t.teardown(() => device.detach().catch(() => undefined));
  await makeFilesystem({ devicePath: device.devicePath, logger });
  const mounted = await mountFilesystem({ devicePath: device.devicePath, mountPoint, logger });
  const holder = await open(join(mountPoint, 'held.txt'), 'w');
  await t.throwsAsync(mounted.unmount(), { code: 'ERR_ATTACH_UNMOUNT_BUSY' });
  t.true(await isMountPoint(mountPoint));
  t.true(messages.some((message) => message.startsWith(`${mountPoint} is busy: retrying`)));
  await holder.close();
  await mounted.unmount();
  t.false(await isMountPoint(mountPoint));
  await device.detach();
  await assertNothingLeft(t, runDirectory);
});

integration('the next attach clears a FUSE mount whose nbdfuse was killed, and refuses while a loop device still uses it', async (t) => {
  const directory = await workDirectory(t);
  const server = await startNbdkit(t, { directory, pluginArgs: ['memory', '64M'] });
  const runDirectory = join(directory, 'run');
  const { logger } = captureLogger();
  const crashed = await attachFuse({ socketPath: server.socketPath, exportName: 'vol', runDirectory, logger });
  const nbdfusePid = Number.parseInt(await readFile(join(runDirectory, 'nbdfuse.pid'), 'utf8'), 10);
  process.kill(nbdfusePid, 'SIGKILL');
  t.true(await waitUntil({ check: async () => !existsSync(`/proc/${nbdfusePid}`), timeoutMs: 10_000 }), 'nbdfuse did not die');

  const refused = await t.throwsAsync<AttachError>(attachFuse({ socketPath: server.socketPath, exportName: 'vol', runDirectory, logger }), {
    code: 'ERR_ATTACH_STALE_DEVICE',
  });
  t.true(refused.message.includes(crashed.devicePath));
  await runCommand({ command: 'losetup', args: ['-d', crashed.devicePath], timeoutMs: 30_000 });

  const fresh = await attachFuse({ socketPath: server.socketPath, exportName: 'vol', runDirectory, logger });
  t.false(await hasFilesystem(fresh.devicePath));
  await fresh.detach();
  await crashed.detach();
  await assertNothingLeft(t, runDirectory);
});

integration('attaching to a socket nobody serves fails with a typed error naming nbdinfo and leaves nothing behind', async (t) => {
  const directory = await workDirectory(t);
  const runDirectory = join(directory, 'run');
  const { logger } = captureLogger();
  const error = await t.throwsAsync<AttachError>(attachFuse({ socketPath: join(directory, 'nobody.sock'), exportName: 'vol', runDirectory, logger }), {
    code: 'ERR_ATTACH_COMMAND_FAILED',
  });
  t.regex(error.command ?? '', /^nbdinfo --size /);
  t.is(error.exitCode, 1);
  t.true(error.stderrTail.length > 0);
  t.false(existsSync(join(runDirectory, 'nbd')) && (await readdir(join(runDirectory, 'nbd'))).length > 0);
  await assertNothingLeft(t, runDirectory);
});

integration('on a kernel without the nbd module, kernelNbdAvailable answers false and attachKernel fails naming nbd-client', async (t) => {
  if (existsSync('/sys/module/nbd')) {
    t.true(await kernelNbdAvailable());
    return;
  }
  t.false(await kernelNbdAvailable());
  const directory = await workDirectory(t);
  const server = await startNbdkit(t, { directory, pluginArgs: ['memory', '64M'] });
  const { logger, messages } = captureLogger();
  const error = await t.throwsAsync<AttachError>(attachKernel({ socketPath: server.socketPath, devicePath: '/dev/nbd0', exportName: 'vol', timeoutSeconds: 30, logger }), {
    code: 'ERR_ATTACH_COMMAND_FAILED',
  });
  t.regex(error.command ?? '', /^nbd-client -unix /);
  t.not(error.exitCode, 0);
  t.true(messages.includes('connecting the kernel to /dev/nbd0'));
});
