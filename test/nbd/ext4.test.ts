/**
 * A real filesystem on the export without kernel NBD: nbdfuse exposes the export as a
 * file, a loop device turns it into a block device, and ext4 runs on top (root only).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { HookedDevice, run, runOk, startTestServer, testWithTools } from './helpers.js';

const SIZE_BYTES = 256 * 1024 * 1024;
const ext4Test = testWithTools(['nbdfuse', 'fusermount3', 'losetup', 'mkfs.ext4', 'fsck.ext4', 'mount', 'umount'], {
  serial: true,
});

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  for (let waitedMs = 0; waitedMs < timeoutMs; waitedMs += 50) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function writeFileSynced(path: string, data: Buffer): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** nbdfuse + a loop device over the export; detach() undoes whatever attach() managed. */
class Attachment {
  #nbdfuse: ChildProcess | null = null;
  #loopDevice: string | null = null;
  #mountPoint: string | null = null;

  constructor(
    readonly socketPath: string,
    readonly directory: string,
  ) {}

  get fuseDirectory(): string {
    return join(this.directory, 'fuse');
  }

  async attach(): Promise<string> {
    const pidFile = join(this.directory, 'nbdfuse.pid');
    await mkdir(this.fuseDirectory, { recursive: true });
    await rm(pidFile, { force: true });
    this.#nbdfuse = spawn('nbdfuse', ['-P', pidFile, join(this.fuseDirectory, 'disk'), '--unix', this.socketPath], { stdio: 'ignore' });
    await waitFor(async () => (await stat(pidFile).catch(() => null)) !== null, 'nbdfuse to serve');
    this.#loopDevice = (await runOk('losetup', ['--find', '--show', join(this.fuseDirectory, 'disk')])).stdout.trim();
    return this.#loopDevice;
  }

  async mount(mountPoint: string): Promise<void> {
    if (this.#loopDevice === null) throw new Error('not attached');
    await mkdir(mountPoint, { recursive: true });
    await runOk('mount', [this.#loopDevice, mountPoint]);
    this.#mountPoint = mountPoint;
  }

  async unmount(): Promise<void> {
    if (this.#mountPoint === null) return;
    await runOk('umount', [this.#mountPoint]);
    this.#mountPoint = null;
  }

  /** Best effort, in reverse order, so a failed test leaves no mount, loop or FUSE behind. */
  async detach(): Promise<void> {
    if (this.#mountPoint !== null) await run('umount', ['-l', this.#mountPoint]);
    this.#mountPoint = null;
    if (this.#loopDevice !== null) await run('losetup', ['-d', this.#loopDevice]);
    this.#loopDevice = null;
    await run('fusermount3', ['-u', this.fuseDirectory]);
    const nbdfuse = this.#nbdfuse;
    this.#nbdfuse = null;
    if (nbdfuse !== null && nbdfuse.exitCode === null) {
      const exited = new Promise((resolve) => nbdfuse.once('exit', resolve));
      nbdfuse.kill('SIGTERM');
      await exited;
    }
  }
}

ext4Test('ext4 on nbdfuse and a loop device: files survive unmount and a fresh attach, and fsck is clean', async (t) => {
  if (process.getuid?.() !== 0) {
    if (process.env['CI'] !== undefined) t.fail('this test needs root (mount, losetup)');
    else t.log('skipped: needs root');
    t.pass();
    return;
  }
  const device = new HookedDevice({ sizeBytes: SIZE_BYTES });
  const server = await startTestServer({ device });
  const attachment = new Attachment(server.socketPath, server.directory);
  const mountPoint = join(server.directory, 'mnt');
  try {
    const loopDevice = await attachment.attach();
    await runOk('mkfs.ext4', ['-q', '-F', loopDevice]);
    await attachment.mount(mountPoint);
    const files = new Map<string, string>();
    for (const [name, sizeBytes] of [['small', 3000], ['medium', 1024 * 1024 + 17], ['large', 20 * 1024 * 1024]] as const) {
      const data = randomBytes(sizeBytes);
      await writeFileSynced(join(mountPoint, name), data);
      files.set(name, sha256(data));
    }
    t.true(device.calls.includes('flush'), 'fsync reached the device as FLUSH');
    await attachment.unmount();
    await attachment.detach();

    // A new nbdfuse and loop device: nothing can come from a cache, only from the server.
    const reattached = await attachment.attach();
    await attachment.mount(mountPoint);
    for (const [name, digest] of files) t.is(sha256(await readFile(join(mountPoint, name))), digest, name);
    await attachment.unmount();
    const fsck = await run('fsck.ext4', ['-fn', reattached]);
    t.is(fsck.code, 0, fsck.stdout + fsck.stderr);
  } finally {
    await attachment.detach();
    await server.close();
  }
});
