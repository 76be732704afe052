import test from 'ava';
import fc from 'fast-check';
import { ByteQueue } from '../../nbd/byte-queue.js';
import { BufferPool } from '../../nbd/buffer-pool.js';

test('consume returns exactly the bytes pushed, whatever the chunking (seeded)', (t) => {
  const seed = Number(process.env['NBD_TEST_SEED'] ?? Date.now() % 2 ** 31);
  t.log(`seed ${seed} (replay with NBD_TEST_SEED=${seed})`);
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 4000 }),
      fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 40 }),
      fc.array(fc.integer({ min: 1, max: 900 }), { minLength: 1, maxLength: 40 }),
      (bytes, chunkSizes, readSizes) => {
        const queue = new ByteQueue();
        let pushedBytes = 0;
        let chunkIndex = 0;
        while (pushedBytes < bytes.length) {
          const size = chunkSizes[chunkIndex++ % chunkSizes.length] ?? 1;
          queue.push(Buffer.from(bytes.subarray(pushedBytes, pushedBytes + size)));
          pushedBytes += size;
        }
        const out: Buffer[] = [];
        let readIndex = 0;
        while (queue.byteLength > 0) {
          const size = Math.min(readSizes[readIndex++ % readSizes.length] ?? 1, queue.byteLength);
          if (readIndex % 3 === 0) {
            const target = Buffer.alloc(size);
            queue.consumeInto(target);
            out.push(target);
          } else if (readIndex % 3 === 1) {
            out.push(queue.consume(size));
          } else {
            const before = queue.byteLength;
            const dropped = queue.discard(size);
            if (dropped !== size || queue.byteLength !== before - size) return false;
            out.push(Buffer.from(bytes.subarray(bytes.length - before, bytes.length - before + size)));
          }
        }
        return Buffer.concat(out).equals(Buffer.from(bytes));
      },
    ),
    { seed, numRuns: 300 },
  );
  t.pass();
});

test('a message inside one chunk is a view, one spanning chunks is one new buffer', (t) => {
  const queue = new ByteQueue();
  const chunk = Buffer.from('abcdefgh');
  queue.push(chunk);
  queue.push(Buffer.from('ijkl'));
  t.is(queue.consume(0).length, 0);
  const view = queue.consume(3);
  const spanning = queue.consume(7);
  t.is(spanning.toString(), 'defghij');
  chunk.fill('z');
  t.is(view.toString(), 'zzz', 'the view shares the chunk memory');
  t.is(spanning.toString(), 'defghij', 'the spanning message is a copy');
  t.is(queue.byteLength, 2);
});

test('the buffer pool hands out exact lengths and reuses what was released, within its bound', (t) => {
  const pool = new BufferPool({ idleMaxBytes: 1024 * 1024 });
  const first = pool.acquire(5000);
  t.is(first.length, 5000);
  t.is(first.buffer.byteLength, 8192);
  pool.release(first);
  t.is(pool.idleBytes, 8192);
  const second = pool.acquire(8000);
  t.is(second.buffer, first.buffer);
  t.is(pool.idleBytes, 0);
  const large = pool.acquire(2 * 1024 * 1024);
  pool.release(large);
  t.is(pool.idleBytes, 0, 'beyond the idle bound buffers are left to the collector');
  t.throws(() => pool.release(Buffer.alloc(3000)), { code: 'ERR_ASSERTION' });
});
