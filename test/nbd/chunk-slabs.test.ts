import test from 'ava';
import { ChunkSlabs, SLAB_SIZE_BYTES } from '../../nbd/chunk-slabs.js';

const CHUNK_SIZE_BYTES = 64 * 1024;
const SLOTS_PER_SLAB = SLAB_SIZE_BYTES / CHUNK_SIZE_BYTES;

test('slots fill one slab before the next is created, and distinct slots never overlap', (t) => {
  const slabs = new ChunkSlabs({ chunkSizeBytes: CHUNK_SIZE_BYTES });
  const slots = Array.from({ length: SLOTS_PER_SLAB + 1 }, () => slabs.allocate({ zeroed: false }));
  t.is(new Set(slots).size, slots.length);
  t.is(slabs.slabCount, 2);
  t.is(slabs.usedSlotCount, SLOTS_PER_SLAB + 1);
  for (const [index, slot] of slots.entries()) {
    slabs.bufferOf(slot).fill(index & 0xff, slabs.offsetOf(slot), slabs.offsetOf(slot) + CHUNK_SIZE_BYTES);
  }
  for (const [index, slot] of slots.entries()) {
    const bytes = slabs.bufferOf(slot).subarray(slabs.offsetOf(slot), slabs.offsetOf(slot) + CHUNK_SIZE_BYTES);
    t.true(bytes.every((byte) => byte === (index & 0xff)));
  }
});

test('a slab whose slots are all freed is given back, and its index is reused', (t) => {
  const slabs = new ChunkSlabs({ chunkSizeBytes: CHUNK_SIZE_BYTES });
  const first = Array.from({ length: SLOTS_PER_SLAB }, () => slabs.allocate({ zeroed: false }));
  const second = slabs.allocate({ zeroed: false });
  t.is(slabs.slabCount, 2);
  for (const slot of first) slabs.free(slot);
  t.is(slabs.slabCount, 1);
  t.is(slabs.usedSlotCount, 1);
  const again = slabs.allocate({ zeroed: true });
  t.true(slabs.bufferOf(again).subarray(slabs.offsetOf(again), slabs.offsetOf(again) + CHUNK_SIZE_BYTES).every((byte) => byte === 0));
  t.not(again, second);
  t.throws(() => {
    slabs.free(second);
    slabs.free(second + SLOTS_PER_SLAB * 5);
  }, { code: 'ERR_ASSERTION' });
});
