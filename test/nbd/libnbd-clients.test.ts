/**
 * libnbd's tools (nbdinfo, nbdcopy) against the server: what they see and move.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MemoryDevice } from '../../nbd/memory-device.js';
import { run, runOk, startTestServer, testWithTools } from './helpers.js';

const SIZE_BYTES = 64 * 1024 * 1024;
const nbdinfoTest = testWithTools(['nbdinfo']);
const nbdcopyTest = testWithTools(['nbdcopy', 'cmp'], { serial: true });

nbdinfoTest('nbdinfo --json sees the size, the block sizes, base:allocation and every capability', async (t) => {
  const server = await startTestServer({ sizeBytes: SIZE_BYTES, description: 'lsvd test disk' });
  try {
    const { stdout } = await runOk('nbdinfo', ['--json', server.uri]);
    const info = JSON.parse(stdout) as { structured: boolean; exports: Array<Record<string, unknown>> };
    t.true(info.structured);
    const [disk] = info.exports;
    t.like(disk, {
      'export-name': 'disk',
      description: 'lsvd test disk',
      'export-size': SIZE_BYTES,
      is_read_only: false,
      can_flush: true,
      can_fua: true,
      can_trim: true,
      can_zero: true,
      can_fast_zero: true,
      can_multi_conn: true,
      can_cache: true,
      block_size_minimum: 512,
      block_size_preferred: 4096,
      block_size_maximum: 32 * 1024 * 1024,
      contexts: ['base:allocation'],
    });
  } finally {
    await server.close();
  }
});

nbdinfoTest('nbdinfo --can answers yes for every capability of a writable export', async (t) => {
  const server = await startTestServer({ sizeBytes: SIZE_BYTES });
  try {
    const capabilities = ['connect', 'read', 'write', 'flush', 'fua', 'trim', 'zero', 'fast-zero', 'multi-conn', 'cache'];
    capabilities.push('structured-reply');
    for (const capability of capabilities) {
      const { code } = await run('nbdinfo', ['--can', capability, server.uri]);
      t.is(code, 0, `--can ${capability}`);
    }
  } finally {
    await server.close();
  }
});

nbdinfoTest('nbdinfo --can write is no for a read-only export, while read and flush stay yes', async (t) => {
  const server = await startTestServer({ sizeBytes: SIZE_BYTES, readOnly: true });
  try {
    t.is((await run('nbdinfo', ['--can', 'write', server.uri])).code, 2);
    t.is((await run('nbdinfo', ['--can', 'trim', server.uri])).code, 2);
    t.is((await run('nbdinfo', ['--can', 'read', server.uri])).code, 0);
    t.is((await run('nbdinfo', ['--can', 'flush', server.uri])).code, 0);
  } finally {
    await server.close();
  }
});

nbdinfoTest('nbdinfo --list lists the export by name, with its description', async (t) => {
  const server = await startTestServer({ sizeBytes: SIZE_BYTES, description: 'listed disk' });
  try {
    const { stdout } = await runOk('nbdinfo', ['--list', '--json', `nbd+unix://?socket=${server.socketPath}`]);
    const listing = JSON.parse(stdout) as { exports: Array<{ 'export-name': string; description: string }> };
    t.deepEqual(
      listing.exports.map((entry) => [entry['export-name'], entry.description]),
      [['disk', 'listed disk']],
    );
  } finally {
    await server.close();
  }
});

nbdinfoTest('nbdinfo --map shows written data as data and everything else as holes', async (t) => {
  const device = new MemoryDevice({ sizeBytes: SIZE_BYTES });
  await device.write(1024 * 1024, Buffer.alloc(2 * 1024 * 1024, 1), { fua: false });
  const server = await startTestServer({ device });
  try {
    const { stdout } = await runOk('nbdinfo', ['--map', '--json', server.uri]);
    const entries = JSON.parse(stdout) as Array<{ offset: number; length: number; type: number }>;
    const map = entries.map((entry) => [entry.offset, entry.length, entry.type]);
    t.deepEqual(map, [
      [0, 1024 * 1024, 3],
      [1024 * 1024, 2 * 1024 * 1024, 0],
      [3 * 1024 * 1024, SIZE_BYTES - 3 * 1024 * 1024, 3],
    ]);
  } finally {
    await server.close();
  }
});

nbdcopyTest('nbdcopy moves 64 MiB of random data in over 4 connections and back out unchanged', async (t) => {
  const server = await startTestServer({ sizeBytes: SIZE_BYTES });
  try {
    const source = join(server.directory, 'source.img');
    const copy = join(server.directory, 'copy.img');
    await writeFile(source, randomBytes(SIZE_BYTES));
    const sessionCount = (): number => server.logger.records.filter((record) => record.message === 'transmission started').length;
    // nbdcopy opens min(connections, threads) connections, threads defaulting to the core count.
    await runOk('nbdcopy', ['--connections=4', '--threads=4', '--flush', source, server.uri], { timeoutMs: 60_000 });
    t.is(sessionCount(), 4, 'nbdcopy writes over 4 connections, as CAN_MULTI_CONN allows');
    await runOk('nbdcopy', [server.uri, copy], { timeoutMs: 60_000 });
    t.is((await run('cmp', [source, copy])).code, 0);
    const flipped = await readFile(copy);
    flipped[12345] = (flipped[12345] ?? 0) ^ 0xff;
    await writeFile(copy, flipped);
    t.is((await run('cmp', ['-s', source, copy])).code, 1, 'cmp notices a single changed byte');
  } finally {
    await server.close();
  }
});

nbdcopyTest('nbdcopy into a read-only export fails and leaves the device untouched', async (t) => {
  const device = new MemoryDevice({ sizeBytes: SIZE_BYTES });
  const server = await startTestServer({ device, readOnly: true });
  try {
    const source = join(server.directory, 'source.img');
    await writeFile(source, randomBytes(1024 * 1024));
    const { code } = await run('nbdcopy', [source, server.uri]);
    t.not(code, 0);
    t.is(device.allocatedBytes, 0);
  } finally {
    await server.close();
  }
});
