import test from 'ava';
import fc from 'fast-check';
import { decodeZeroRanges, encodeZeroRanges } from '../../logformat/zero-ranges.js';
import type { ZeroRange } from '../../logformat/zero-ranges.js';
import { LogFormatError } from '../../logformat/errors.js';
import { SECTOR_SIZE_BYTES, VOLUME_SIZE_MAX_BYTES, ZERO_RANGES_MAX } from '../../logformat/limits.js';
import { checkProperty } from './property.js';

const KEY = 'zeros/0000000000000003';
const VOLUME_SIZE_BYTES = 64 * 1024 * 1024;
const CONTEXT = { objectKey: KEY, volumeSizeBytes: VOLUME_SIZE_BYTES };

function rawCompanion(options: { magic?: string; version?: number; count: number; ranges: readonly [bigint, bigint][] }): Uint8Array {
  const bytes = new Uint8Array(16 + options.ranges.length * 16);
  const view = new DataView(bytes.buffer);
  bytes.set(new TextEncoder().encode(options.magic ?? 'LSVDZERO'), 0);
  view.setUint32(8, options.version ?? 1, false);
  view.setUint32(12, options.count, false);
  options.ranges.forEach(([address, size], index) => {
    view.setBigUint64(16 + index * 16, address, false);
    view.setBigUint64(24 + index * 16, size, false);
  });
  return bytes;
}

test('a companion is the magic, version 1, the count, then big-endian address and size pairs', (t) => {
  const bytes = encodeZeroRanges([{ addressBytes: 0x1000, sizeBytes: 0x2000 }]);
  t.is(new TextDecoder().decode(bytes.subarray(0, 8)), 'LSVDZERO');
  t.deepEqual([...bytes.subarray(8, 32)], [0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x20, 0]);
});

test('decode rejects a companion shorter than its preamble', (t) => {
  const error = t.throws(() => decodeZeroRanges(new Uint8Array(15), CONTEXT), { instanceOf: LogFormatError, code: 'ERR_ZERO_RANGES_INVALID' });
  t.is(error?.objectKey, KEY);
  t.regex(error?.message ?? '', /"zeros\/0000000000000003"/);
});

test('decode rejects a wrong magic', (t) => {
  t.throws(() => decodeZeroRanges(rawCompanion({ magic: 'LSVDZERX', count: 0, ranges: [] }), CONTEXT), { code: 'ERR_ZERO_RANGES_INVALID' });
});

test('decode rejects an unknown version', (t) => {
  t.throws(() => decodeZeroRanges(rawCompanion({ version: 2, count: 0, ranges: [] }), CONTEXT), { code: 'ERR_ZERO_RANGES_INVALID' });
});

test('decode rejects a count above ZERO_RANGES_MAX', (t) => {
  t.throws(() => decodeZeroRanges(rawCompanion({ count: ZERO_RANGES_MAX + 1, ranges: [] }), CONTEXT), { code: 'ERR_ZERO_RANGES_INVALID' });
});

test('decode rejects a length that does not match the count, short or long', (t) => {
  t.throws(() => decodeZeroRanges(rawCompanion({ count: 2, ranges: [[0n, 4096n]] }), CONTEXT), { code: 'ERR_ZERO_RANGES_INVALID' });
  t.throws(() => decodeZeroRanges(rawCompanion({ count: 0, ranges: [[0n, 4096n]] }), CONTEXT), { code: 'ERR_ZERO_RANGES_INVALID' });
});

test('decode rejects a range of size 0', (t) => {
  t.throws(() => decodeZeroRanges(rawCompanion({ count: 1, ranges: [[4096n, 0n]] }), CONTEXT), { code: 'ERR_ZERO_RANGES_INVALID' });
});

test('decode rejects an unaligned range', (t) => {
  t.throws(() => decodeZeroRanges(rawCompanion({ count: 1, ranges: [[512n, 4096n]] }), CONTEXT), { code: 'ERR_ZERO_RANGES_INVALID' });
  t.throws(() => decodeZeroRanges(rawCompanion({ count: 1, ranges: [[0n, 4095n]] }), CONTEXT), { code: 'ERR_ZERO_RANGES_INVALID' });
});

test('decode rejects a range past the volume end', (t) => {
  const ranges: [bigint, bigint][] = [[BigInt(VOLUME_SIZE_BYTES), 4096n]];
  t.throws(() => decodeZeroRanges(rawCompanion({ count: 1, ranges }), CONTEXT), { code: 'ERR_ZERO_RANGES_INVALID' });
});

test('decode rejects a range whose address plus size overflows 64 bits', (t) => {
  const ranges: [bigint, bigint][] = [[(1n << 63n), (1n << 63n)]];
  const context = { objectKey: KEY, volumeSizeBytes: VOLUME_SIZE_MAX_BYTES };
  const error = t.throws(() => decodeZeroRanges(rawCompanion({ count: 1, ranges }), context), { code: 'ERR_ZERO_RANGES_INVALID' });
  t.regex(error?.message ?? '', /overflows/);
});

test('decode accepts an empty companion and a range ending exactly at the volume end', (t) => {
  t.deepEqual(decodeZeroRanges(encodeZeroRanges([]), CONTEXT), []);
  const last = { addressBytes: VOLUME_SIZE_BYTES - SECTOR_SIZE_BYTES, sizeBytes: SECTOR_SIZE_BYTES };
  t.deepEqual(decodeZeroRanges(encodeZeroRanges([last]), CONTEXT), [last]);
});

const arbitraryRange: fc.Arbitrary<ZeroRange> = fc
  .tuple(fc.integer({ min: 0, max: VOLUME_SIZE_BYTES / SECTOR_SIZE_BYTES - 1 }), fc.integer({ min: 1, max: VOLUME_SIZE_BYTES / SECTOR_SIZE_BYTES }))
  .map(([startSector, lengthSectors]) => {
    const clampedSectors = Math.min(lengthSectors, VOLUME_SIZE_BYTES / SECTOR_SIZE_BYTES - startSector);
    return { addressBytes: startSector * SECTOR_SIZE_BYTES, sizeBytes: clampedSectors * SECTOR_SIZE_BYTES };
  });

test('decodeZeroRanges(encodeZeroRanges(ranges)) returns the ranges', (t) => {
  checkProperty(
    t,
    fc.property(fc.array(arbitraryRange, { maxLength: 200 }), (ranges) => {
      const decoded = decodeZeroRanges(encodeZeroRanges(ranges), CONTEXT);
      return JSON.stringify(decoded) === JSON.stringify(ranges);
    }),
    { numRuns: 200 },
  );
});

function decodesOrThrowsLogFormatError(bytes: Uint8Array): boolean {
  try {
    decodeZeroRanges(bytes, CONTEXT);
    return true;
  } catch (error) {
    return error instanceof LogFormatError && error.code === 'ERR_ZERO_RANGES_INVALID' && error.objectKey === KEY;
  }
}

test('decoding random and mutated companions returns or throws only LogFormatError', (t) => {
  const mutated = fc
    .tuple(fc.array(arbitraryRange, { maxLength: 8 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat())
    .map(([ranges, writes, cut]) => {
      const bytes = encodeZeroRanges(ranges);
      for (const [offsetBytes, value] of writes) bytes[offsetBytes % bytes.byteLength] = value;
      return bytes.subarray(0, bytes.byteLength - (cut % 3 === 0 ? cut % 17 : 0));
    });
  checkProperty(t, fc.property(fc.oneof(mutated, fc.uint8Array({ maxLength: 200 })), decodesOrThrowsLogFormatError), { numRuns: 500 });
});
