/**
 * The bytes the engine stores decode, with an independent decoder written here from
 * DESIGN.md §1 (not the production codec), to exactly the image the writes describe. This
 * is what Fly.io's lsvd would read: a 12,288-byte header of 1,024 {u64 BE address, u32 BE
 * size} entries ended by a zero size, then the data of each entry back to back.
 */
import test from 'ava';
import { MemoryStore } from '../../store/memory-store.js';
import { openTestVolume } from './helpers/volumes.js';
import { differenceOf, KIB, pattern } from './helpers/world.js';

const VOLUME_SIZE_BYTES = 1024 * KIB;
const SECTOR = 4096;
const HEADER_BYTES = 12_288;

interface IndependentEntry {
  address: number;
  size: number;
}

/** DESIGN.md §1, read literally. */
function decodeIndependently(bytes: Uint8Array): { entries: IndependentEntry[]; data: Uint8Array } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const entries: IndependentEntry[] = [];
  for (let index = 0; index < 1024; index++) {
    const address = Number(view.getBigUint64(index * 12, false));
    const size = view.getUint32(index * 12 + 8, false);
    if (size === 0) break;
    entries.push({ address, size });
  }
  return { entries, data: bytes.subarray(HEADER_BYTES) };
}

/** `zeros/<seq>` as docs/FORMAT.md describes it: "LSVDZERO", u32 version, u32 count, {u64, u64}. */
function decodeZerosIndependently(bytes: Uint8Array): IndependentEntry[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ranges: IndependentEntry[] = [];
  if (new TextDecoder().decode(bytes.subarray(0, 8)) !== 'LSVDZERO') throw new Error('bad magic');
  const count = view.getUint32(12, false);
  for (let index = 0; index < count; index++) {
    ranges.push({ address: Number(view.getBigUint64(16 + index * 16, false)), size: Number(view.getBigUint64(24 + index * 16, false)) });
  }
  return ranges;
}

/** Replays a bucket: objects 1, 2, ... in order; each object's zero ranges, then its entries. */
function replayIndependently(objects: Map<string, Uint8Array>): { image: Uint8Array; objectCount: number; problems: string[] } {
  const image = new Uint8Array(VOLUME_SIZE_BYTES);
  const problems: string[] = [];
  let sequence = 1;
  for (; ; sequence++) {
    const key = sequence.toString(16).padStart(16, '0');
    const bytes = objects.get(key);
    if (bytes === undefined) break;
    const zeros = objects.get(`zeros/${key}`);
    for (const range of zeros === undefined ? [] : decodeZerosIndependently(zeros)) image.fill(0, range.address, range.address + range.size);
    const { entries, data } = decodeIndependently(bytes);
    let dataOffset = 0;
    for (const entry of entries) {
      if (entry.address % SECTOR !== 0 || entry.size % SECTOR !== 0) problems.push(`${key}: unaligned entry`);
      if (entry.address + entry.size > VOLUME_SIZE_BYTES) problems.push(`${key}: entry past the volume end`);
      image.set(data.subarray(dataOffset, dataOffset + entry.size), entry.address);
      dataOffset += entry.size;
    }
    if (dataOffset !== data.length) problems.push(`${key}: data is ${data.length} bytes, entries say ${dataOffset}`);
    if (entries.length === 1024 ? false : bytes.subarray(entries.length * 12, HEADER_BYTES).some((byte) => byte !== 0)) problems.push(`${key}: unused header entries are not all zero`);
  }
  const extra = [...objects.keys()].filter((key) => /^[0-9a-f]{16}$/.test(key) && parseInt(key, 16) >= sequence);
  if (extra.length > 0) problems.push(`objects after a gap: ${extra.join(', ')}`);
  return { image, objectCount: sequence - 1, problems };
}

test('objects from a known write sequence decode independently to exactly the expected image', async (t) => {
  const store = new MemoryStore();
  const volume = await openTestVolume({ store, sizeBytes: VOLUME_SIZE_BYTES, config: { targetObjectSizeBytes: 32 * KIB } });
  const expected = new Uint8Array(VOLUME_SIZE_BYTES);
  const write = async (offsetBytes: number, lengthBytes: number, tag: number) => {
    const data = pattern({ lengthBytes, tag });
    await volume.write(offsetBytes, data, { fua: false });
    expected.set(data, offsetBytes);
  };
  await write(8 * KIB, 4 * KIB, 1); // out of address order, then its neighbours
  await write(0, 8 * KIB, 2);
  await write(12 * KIB, 4 * KIB, 3); // adjacent: merged
  await write(4 * KIB, 4 * KIB, 4); // overwrite inside the open object
  await volume.flush();
  await write(512 * KIB, 100 * KIB, 5); // larger than an object: spans several
  await write(2048 + 64 * KIB, 5000, 6); // 512-byte aligned, read-modify-write
  for (let index = 0; index < 40; index++) await write(((index * 97) % 200) * 4 * KIB, 4 * KIB, 100 + index);
  await volume.close();
  const { image, objectCount, problems } = replayIndependently(store.snapshot());
  t.deepEqual(problems, []);
  t.true(objectCount >= 5);
  t.is(differenceOf(image, expected), undefined);
});

test('the first object of a small write sequence has exactly the expected header and data layout', async (t) => {
  const store = new MemoryStore();
  const volume = await openTestVolume({ store, sizeBytes: VOLUME_SIZE_BYTES });
  const first = pattern({ lengthBytes: SECTOR, tag: 10 });
  const second = pattern({ lengthBytes: SECTOR, tag: 11 });
  const third = pattern({ lengthBytes: SECTOR, tag: 12 });
  await volume.write(2 * SECTOR, third, { fua: false });
  await volume.write(0, first, { fua: false });
  await volume.write(SECTOR, second, { fua: false });
  await volume.write(10 * SECTOR, first, { fua: false });
  await volume.close();
  const bytes = store.snapshot().get('0000000000000001');
  t.is(bytes?.length, HEADER_BYTES + 4 * SECTOR);
  const { entries, data } = decodeIndependently(bytes ?? new Uint8Array(HEADER_BYTES));
  t.deepEqual(entries, [
    { address: 0, size: 3 * SECTOR },
    { address: 10 * SECTOR, size: SECTOR },
  ]);
  t.is(differenceOf(data, Buffer.concat([first, second, third, first])), undefined);
});

test('with trims and write-zeroes, objects and their zeros companions decode independently to the expected image', async (t) => {
  const store = new MemoryStore();
  const volume = await openTestVolume({ store, sizeBytes: VOLUME_SIZE_BYTES, config: { targetObjectSizeBytes: 32 * KIB } });
  const expected = new Uint8Array(VOLUME_SIZE_BYTES);
  for (let index = 0; index < 16; index++) {
    const data = pattern({ lengthBytes: 16 * KIB, tag: 200 + index });
    await volume.write(index * 16 * KIB, data, { fua: false });
    expected.set(data, index * 16 * KIB);
    if (index % 3 === 2) {
      const offsetBytes = (index - 1) * 16 * KIB + 4 * KIB;
      await volume.trim(offsetBytes, 12 * KIB, { fua: false });
      expected.fill(0, offsetBytes, offsetBytes + 12 * KIB);
    }
  }
  await volume.writeZeroes(1536, 20 * KIB, { fua: false, noHole: false });
  expected.fill(0, 1536, 1536 + 20 * KIB);
  await volume.close();
  const { image, problems } = replayIndependently(store.snapshot());
  t.deepEqual(problems, []);
  t.is(differenceOf(image, expected), undefined);
});
