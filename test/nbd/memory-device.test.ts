import test from 'ava';
import fc from 'fast-check';
import { MEMORY_CHUNK_SIZE_BYTES, MemoryDevice } from '../../nbd/memory-device.js';

const CHUNK = MEMORY_CHUNK_SIZE_BYTES;
const TIB = 2 ** 40;

test('a 1 TiB device costs nothing until written, and reads zeros everywhere', async (t) => {
  const device = new MemoryDevice({ sizeBytes: TIB });
  t.is(device.allocatedBytes, 0);
  const data = await device.read(TIB - 1024 * 1024, 1024 * 1024);
  t.true(data.every((byte) => byte === 0));
  t.deepEqual(await device.blockStatus(0, 2 ** 32 - 512), [{ lengthBytes: 2 ** 32 - 512, hole: true, zero: true }]);
  await device.write(TIB - 4096, Buffer.alloc(4096, 1), { fua: false });
  t.is(device.allocatedBytes, CHUNK);
});

test('writes read back across chunk boundaries, and holes around them read as zeros', async (t) => {
  const device = new MemoryDevice({ sizeBytes: 4 * CHUNK });
  const data = Buffer.alloc(CHUNK + 1024, 7);
  await device.write(CHUNK - 512, data, { fua: false });
  const all = Buffer.from(await device.read(0, 4 * CHUNK));
  t.true(all.subarray(0, CHUNK - 512).every((byte) => byte === 0));
  t.true(all.subarray(CHUNK - 512, 2 * CHUNK + 512).every((byte) => byte === 7));
  t.true(all.subarray(2 * CHUNK + 512).every((byte) => byte === 0));
  const into = Buffer.alloc(2048, 0xff);
  await device.readInto(CHUNK - 1024, into);
  t.true(into.subarray(0, 512).every((byte) => byte === 0));
  t.true(into.subarray(512).every((byte) => byte === 7));
});

test('trim frees whole chunks and zeroes partial ones', async (t) => {
  const device = new MemoryDevice({ sizeBytes: 4 * CHUNK });
  await device.write(0, Buffer.alloc(3 * CHUNK, 9), { fua: false });
  t.is(device.allocatedBytes, 3 * CHUNK);
  await device.trim(CHUNK / 2, 2 * CHUNK, { fua: false });
  t.is(device.allocatedBytes, 2 * CHUNK, 'the middle chunk is freed');
  const all = Buffer.from(await device.read(0, 3 * CHUNK));
  t.true(all.subarray(0, CHUNK / 2).every((byte) => byte === 9));
  t.true(all.subarray(CHUNK / 2, CHUNK / 2 + 2 * CHUNK).every((byte) => byte === 0));
  t.true(all.subarray(CHUNK / 2 + 2 * CHUNK).every((byte) => byte === 9));
  t.deepEqual(await device.blockStatus(0, 3 * CHUNK), [
    { lengthBytes: CHUNK, hole: false, zero: false },
    { lengthBytes: CHUNK, hole: true, zero: true },
    { lengthBytes: CHUNK, hole: false, zero: false },
  ]);
});

test('write zeroes with NO_HOLE keeps the range allocated without spending memory', async (t) => {
  const device = new MemoryDevice({ sizeBytes: 4 * CHUNK });
  await device.write(0, Buffer.alloc(2 * CHUNK, 3), { fua: false });
  await device.writeZeroes(0, 3 * CHUNK, { fua: false, noHole: true });
  t.is(device.allocatedBytes, 0);
  t.deepEqual(await device.blockStatus(0, 4 * CHUNK), [
    { lengthBytes: 3 * CHUNK, hole: false, zero: true },
    { lengthBytes: CHUNK, hole: true, zero: true },
  ]);
  t.true(Buffer.from(await device.read(0, 4 * CHUNK)).every((byte) => byte === 0));
  await device.write(CHUNK + 512, Buffer.alloc(512, 4), { fua: false });
  const chunk = Buffer.from(await device.read(CHUNK, CHUNK));
  t.true(chunk.subarray(0, 512).every((byte) => byte === 0) && chunk.subarray(512, 1024).every((byte) => byte === 4));
  t.true(chunk.subarray(1024).every((byte) => byte === 0));
});

test('write zeroes without NO_HOLE may punch holes', async (t) => {
  const device = new MemoryDevice({ sizeBytes: 2 * CHUNK });
  await device.write(0, Buffer.alloc(2 * CHUNK, 1), { fua: false });
  await device.writeZeroes(0, CHUNK, { fua: false, noHole: false });
  t.is(device.allocatedBytes, CHUNK);
  t.deepEqual((await device.blockStatus(0, CHUNK))[0], { lengthBytes: CHUNK, hole: true, zero: true });
});

test('a read-only device refuses writes with EROFS and ranges past the end are programmer errors', async (t) => {
  const device = new MemoryDevice({ sizeBytes: CHUNK, readOnly: true });
  await t.throwsAsync(device.write(0, Buffer.alloc(512), { fua: false }), { code: 'EROFS' });
  await t.throwsAsync(device.trim(0, 512, { fua: false }), { code: 'EROFS' });
  await t.throwsAsync(device.read(CHUNK - 512, 1024), { code: 'ERR_ASSERTION' });
});

test('chunks freed by trim can be written again', async (t) => {
  const device = new MemoryDevice({ sizeBytes: 256 * CHUNK });
  await device.write(0, Buffer.alloc(256 * CHUNK, 5), { fua: false });
  t.is(device.allocatedBytes, 256 * CHUNK);
  await device.trim(0, 256 * CHUNK, { fua: false });
  t.is(device.allocatedBytes, 0);
  await device.write(10 * CHUNK, Buffer.alloc(CHUNK, 6), { fua: false });
  t.true(Buffer.from(await device.read(10 * CHUNK, CHUNK)).every((byte) => byte === 6));
  t.true(Buffer.from(await device.read(11 * CHUNK, CHUNK)).every((byte) => byte === 0));
});

test('random writes, trims and zeroes match a flat model (seeded)', async (t) => {
  const sizeBytes = 16 * CHUNK;
  const sector = fc.integer({ min: 0, max: sizeBytes / 512 - 1 });
  const operation = fc.record({
    kind: fc.constantFrom('write', 'trim', 'zero', 'zero-no-hole'),
    startSector: sector,
    lengthSectors: fc.integer({ min: 1, max: 3 * (CHUNK / 512) }),
    fill: fc.integer({ min: 1, max: 255 }),
  });
  const seed = Number(process.env['NBD_TEST_SEED'] ?? Date.now() % 2 ** 31);
  t.log(`seed ${seed} (replay with NBD_TEST_SEED=${seed})`);
  await fc.assert(
    fc.asyncProperty(fc.array(operation, { maxLength: 40 }), async (operations) => {
      const device = new MemoryDevice({ sizeBytes });
      const model = Buffer.alloc(sizeBytes);
      for (const { kind, startSector, lengthSectors, fill } of operations) {
        const offsetBytes = startSector * 512;
        const lengthBytes = Math.min(lengthSectors * 512, sizeBytes - offsetBytes);
        if (kind === 'write') await device.write(offsetBytes, Buffer.alloc(lengthBytes, fill), { fua: false });
        else if (kind === 'trim') await device.trim(offsetBytes, lengthBytes, { fua: false });
        else await device.writeZeroes(offsetBytes, lengthBytes, { fua: false, noHole: kind === 'zero-no-hole' });
        model.fill(kind === 'write' ? fill : 0, offsetBytes, offsetBytes + lengthBytes);
      }
      const actual = Buffer.from(await device.read(0, sizeBytes));
      if (!actual.equals(model)) return false;
      const extents = await device.blockStatus(0, sizeBytes);
      let positionBytes = 0;
      for (const extent of extents) {
        if (extent.zero && !model.subarray(positionBytes, positionBytes + extent.lengthBytes).every((byte) => byte === 0)) return false;
        positionBytes += extent.lengthBytes;
      }
      return positionBytes === sizeBytes;
    }),
    { seed, numRuns: 200 },
  );
  t.pass();
});
