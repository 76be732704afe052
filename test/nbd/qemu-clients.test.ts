/**
 * qemu's NBD client (qemu-img, qemu-io) against the server. qemu is strict about block
 * sizes and structured replies, and uses FUA, WRITE_ZEROES with NO_HOLE/FAST_ZERO,
 * BLOCK_STATUS with REQ_ONE and CACHE.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run, runOk, startTestServer, testWithTools } from './helpers.js';

const SIZE_BYTES = 64 * 1024 * 1024;
const MIB = 1024 * 1024;
const qemuTest = testWithTools(['qemu-img', 'qemu-io']);

qemuTest('qemu-img info sees the size of the export', async (t) => {
  const server = await startTestServer({ sizeBytes: SIZE_BYTES });
  try {
    const { stdout } = await runOk('qemu-img', ['info', '--output=json', server.uri]);
    t.is((JSON.parse(stdout) as { 'virtual-size': number })['virtual-size'], SIZE_BYTES);
  } finally {
    await server.close();
  }
});

qemuTest('qemu-img convert copies an image in, compare finds it identical, and notices one changed byte', async (t) => {
  const server = await startTestServer({ sizeBytes: SIZE_BYTES });
  try {
    const source = join(server.directory, 'source.img');
    const image = Buffer.alloc(SIZE_BYTES);
    randomBytes(8 * MIB).copy(image, 4 * MIB); // data surrounded by zeros, so convert writes zeroes too
    await writeFile(source, image);
    await runOk('qemu-img', ['convert', '-n', '-f', 'raw', '-O', 'raw', source, server.uri]);
    t.is((await run('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', source, server.uri])).code, 0);
    await runOk('qemu-io', ['-f', 'raw', '-c', 'write -P 0x5a 6M 512', server.uri]);
    t.is((await run('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', source, server.uri])).code, 1);
  } finally {
    await server.close();
  }
});

qemuTest('qemu-img map reports data, allocated zeros (write -z keeps them allocated) and zero holes', async (t) => {
  const server = await startTestServer({ sizeBytes: SIZE_BYTES });
  try {
    await runOk('qemu-io', ['-f', 'raw', '-c', 'write -P 1 2M 1M', '-c', 'write -z 8M 1M', server.uri]);
    const { stdout } = await runOk('qemu-img', ['map', '--output=json', '-f', 'raw', server.uri]);
    const map = (JSON.parse(stdout) as Array<{ start: number; length: number; data: boolean; zero: boolean }>).map((entry) => [
      entry.start,
      entry.length,
      entry.data,
      entry.zero,
    ]);
    t.deepEqual(map, [
      [0, 2 * MIB, false, true],
      [2 * MIB, MIB, true, false],
      [3 * MIB, 5 * MIB, false, true],
      [8 * MIB, MIB, true, true],
      [9 * MIB, SIZE_BYTES - 9 * MIB, false, true],
    ]);
  } finally {
    await server.close();
  }
});

qemuTest('a qemu-io script of writes, reads with pattern checks, flush, discard, write -z and aio passes', async (t) => {
  const server = await startTestServer({ sizeBytes: SIZE_BYTES });
  try {
    const commands = [
      'write -P 0x55 0 1M',
      'read -P 0x55 0 1M',
      'write -P 0x66 -f 1M 64k', // FUA
      'read -P 0x66 1M 64k',
      'flush',
      'write -P 0x77 3M 64k',
      'discard 3M 64k',
      'read -P 0 3M 64k',
      'write -P 0x11 2M 64k',
      'write -z 2M 64k',
      'read -P 0 2M 64k',
      'write -P 0x12 2M 64k',
      'write -z -u 2M 32k', // may unmap
      'read -P 0 2M 32k',
      'read -P 0x12 2080k 32k',
      'aio_write -P 7 4M 64k',
      'aio_write -P 8 5M 64k',
      'aio_flush',
      'read -P 7 4M 64k',
      'read -P 8 5M 64k',
      'write -P 0x33 1536 1024', // 512-aligned, not 4K-aligned
      'read -P 0x33 1536 1024',
      'read -P 0x55 1024 512',
    ];
    const { stdout, stderr } = await runOk('qemu-io', ['-f', 'raw', ...commands.flatMap((command) => ['-c', command]), server.uri]);
    t.false(/Pattern verification failed|error|failed/i.test(stdout + stderr), stdout + stderr);
  } finally {
    await server.close();
  }
});

qemuTest('qemu-io pattern checks fail when the data is not what was written', async (t) => {
  const server = await startTestServer({ sizeBytes: SIZE_BYTES });
  try {
    const { stdout, stderr } = await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x55 0 64k', '-c', 'read -P 0x56 0 64k', server.uri]);
    t.regex(stdout + stderr, /Pattern verification failed/);
  } finally {
    await server.close();
  }
});
