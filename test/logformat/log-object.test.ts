import test from 'ava';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  checkLogObjectLength,
  decodeLogHeader,
  decodeLogObject,
  encodeLogHeader,
  encodeLogObject,
  logDataLengthBytes,
} from '../../logformat/log-object.js';
import type { LogEntry } from '../../logformat/log-object.js';
import { LogFormatError } from '../../logformat/errors.js';
import { HEADER_ENTRIES_MAX, HEADER_SIZE_BYTES, SECTOR_SIZE_BYTES, VOLUME_SIZE_MAX_BYTES } from '../../logformat/limits.js';
import { checkProperty } from './property.js';

const KEY = '0000000000000042';
const VOLUME_SIZE_BYTES = 1024 * 1024 * 1024;
const CONTEXT = { objectKey: KEY, volumeSizeBytes: VOLUME_SIZE_BYTES };

/** A header with raw fields, to build what the encoder refuses to write. */
function rawHeader(fields: readonly { address: bigint; sizeBytes: number }[]): Uint8Array {
  const header = new Uint8Array(HEADER_SIZE_BYTES);
  const view = new DataView(header.buffer);
  fields.forEach((field, index) => {
    view.setBigUint64(index * 12, field.address, false);
    view.setUint32(index * 12 + 8, field.sizeBytes, false);
  });
  return header;
}

test('a header is always 12,288 bytes, big-endian, with unused entries zero', (t) => {
  const header = encodeLogHeader([{ addressBytes: 0x1_0000_2000, sizeBytes: 0x3000 }]);
  t.is(header.byteLength, HEADER_SIZE_BYTES);
  t.deepEqual([...header.subarray(0, 12)], [0, 0, 0, 1, 0, 0, 0x20, 0, 0, 0, 0x30, 0]);
  t.true(header.subarray(12).every((byte) => byte === 0));
});

test('decode rejects a header shorter than 12,288 bytes', (t) => {
  const error = t.throws(() => decodeLogHeader(new Uint8Array(HEADER_SIZE_BYTES - 1), CONTEXT), { instanceOf: LogFormatError, code: 'ERR_LOG_HEADER_TRUNCATED' });
  t.is(error?.objectKey, KEY);
  t.regex(error?.message ?? '', /"0000000000000042"/);
});

test('decode rejects an entry whose address is not a multiple of 4,096', (t) => {
  t.throws(() => decodeLogHeader(rawHeader([{ address: 4097n, sizeBytes: 4096 }]), CONTEXT), { code: 'ERR_LOG_ENTRY_UNALIGNED' });
});

test('decode rejects an entry whose size is not a multiple of 4,096', (t) => {
  t.throws(() => decodeLogHeader(rawHeader([{ address: 0n, sizeBytes: 512 }]), CONTEXT), { code: 'ERR_LOG_ENTRY_UNALIGNED' });
});

test('decode rejects an entry that runs past the volume end', (t) => {
  const header = rawHeader([{ address: BigInt(VOLUME_SIZE_BYTES - SECTOR_SIZE_BYTES), sizeBytes: 2 * SECTOR_SIZE_BYTES }]);
  t.throws(() => decodeLogHeader(header, CONTEXT), { code: 'ERR_LOG_ENTRY_PAST_VOLUME_END' });
});

test('decode accepts an entry that ends exactly at the volume end', (t) => {
  const header = rawHeader([{ address: BigInt(VOLUME_SIZE_BYTES - SECTOR_SIZE_BYTES), sizeBytes: SECTOR_SIZE_BYTES }]);
  t.deepEqual(decodeLogHeader(header, CONTEXT), [{ addressBytes: VOLUME_SIZE_BYTES - SECTOR_SIZE_BYTES, sizeBytes: SECTOR_SIZE_BYTES }]);
});

test('decode rejects an entry whose address plus size overflows 64 bits', (t) => {
  const header = rawHeader([{ address: (1n << 64n) - 4096n, sizeBytes: 8192 }]);
  t.throws(() => decodeLogHeader(header, { objectKey: KEY, volumeSizeBytes: VOLUME_SIZE_MAX_BYTES }), { code: 'ERR_LOG_ENTRY_OVERFLOW' });
});

test('decode rejects an address beyond 2^53 as past the volume end rather than rounding it', (t) => {
  const header = rawHeader([{ address: 1n << 60n, sizeBytes: 4096 }]);
  t.throws(() => decodeLogHeader(header, { objectKey: KEY, volumeSizeBytes: VOLUME_SIZE_MAX_BYTES }), { code: 'ERR_LOG_ENTRY_PAST_VOLUME_END' });
});

test('decode rejects a size-0 terminator entry with a non-zero address', (t) => {
  const header = rawHeader([{ address: 0n, sizeBytes: 4096 }, { address: 8192n, sizeBytes: 0 }]);
  t.throws(() => decodeLogHeader(header, CONTEXT), { code: 'ERR_LOG_ENTRY_AFTER_TERMINATOR' });
});

test('decode rejects a non-zero entry after the terminator', (t) => {
  const header = rawHeader([{ address: 0n, sizeBytes: 4096 }, { address: 0n, sizeBytes: 0 }, { address: 4096n, sizeBytes: 4096 }]);
  t.throws(() => decodeLogHeader(header, CONTEXT), { code: 'ERR_LOG_ENTRY_AFTER_TERMINATOR' });
});

test('decode rejects a single stray byte in the last header entry after the terminator', (t) => {
  const header = rawHeader([{ address: 0n, sizeBytes: 4096 }]);
  header[HEADER_SIZE_BYTES - 1] = 1;
  t.throws(() => decodeLogHeader(header, CONTEXT), { code: 'ERR_LOG_ENTRY_AFTER_TERMINATOR' });
});

test('decode rejects an object whose data is shorter than the header says, naming the key and both lengths', (t) => {
  const bytes = encodeLogObject([{ addressBytes: 0, data: new Uint8Array(12288) }]).subarray(0, HEADER_SIZE_BYTES + 8192);
  const error = t.throws(() => decodeLogObject(bytes, CONTEXT), { code: 'ERR_LOG_DATA_LENGTH' });
  t.is(error?.message, 'Cannot decode log object "0000000000000042": data is 8192 bytes, header says 12288');
});

test('decode rejects an object padded past the sum of its entry sizes', (t) => {
  const valid = encodeLogObject([{ addressBytes: 0, data: new Uint8Array(4096) }]);
  const padded = new Uint8Array(valid.byteLength + 1);
  padded.set(valid);
  t.throws(() => decodeLogObject(padded, CONTEXT), { code: 'ERR_LOG_DATA_LENGTH' });
});

test('the length check rejects an object shorter than its header as truncated', (t) => {
  t.throws(() => checkLogObjectLength([], HEADER_SIZE_BYTES - 1, CONTEXT), { code: 'ERR_LOG_HEADER_TRUNCATED' });
  t.notThrows(() => checkLogObjectLength([{ addressBytes: 0, sizeBytes: 4096 }], HEADER_SIZE_BYTES + 4096, CONTEXT));
});

test('the header decodes from the first 12,288 bytes of a whole object', (t) => {
  const bytes = encodeLogObject([{ addressBytes: 8192, data: new Uint8Array(4096).fill(7) }]);
  t.deepEqual(decodeLogHeader(bytes, CONTEXT), [{ addressBytes: 8192, sizeBytes: 4096 }]);
});

test('decode works on a view into a larger buffer at an odd offset', (t) => {
  const object = encodeLogObject([{ addressBytes: 4096, data: new Uint8Array(4096).fill(9) }]);
  const backing = new Uint8Array(object.byteLength + 3);
  backing.set(object, 3);
  const decoded = decodeLogObject(backing.subarray(3), CONTEXT);
  t.deepEqual(decoded.entries, [{ addressBytes: 4096, sizeBytes: 4096 }]);
});

test('the encoder refuses programmer errors: unaligned, empty, too many entries', (t) => {
  t.throws(() => encodeLogHeader([{ addressBytes: 1, sizeBytes: 4096 }]), { code: 'ERR_ASSERTION' });
  t.throws(() => encodeLogHeader([{ addressBytes: 0, sizeBytes: 0 }]), { code: 'ERR_ASSERTION' });
  const tooMany = Array.from({ length: HEADER_ENTRIES_MAX + 1 }, (_, index) => ({ addressBytes: index * 4096, sizeBytes: 4096 }));
  t.throws(() => encodeLogHeader(tooMany), { code: 'ERR_ASSERTION' });
});

const sectorCount = (max: number) => fc.integer({ min: 1, max });
const arbitraryEntry: fc.Arbitrary<LogEntry> = fc.record({
  addressBytes: fc.integer({ min: 0, max: VOLUME_SIZE_BYTES / SECTOR_SIZE_BYTES - 16 }).map((sector) => sector * SECTOR_SIZE_BYTES),
  sizeBytes: sectorCount(16).map((count) => count * SECTOR_SIZE_BYTES),
}).map(({ addressBytes, sizeBytes }) => ({ addressBytes, sizeBytes }));

test('decodeLogHeader(encodeLogHeader(entries)) returns the entries', (t) => {
  checkProperty(
    t,
    fc.property(fc.array(arbitraryEntry, { maxLength: HEADER_ENTRIES_MAX }), (entries) => {
      assert.deepEqual(decodeLogHeader(encodeLogHeader(entries), CONTEXT), entries);
    }),
    { numRuns: 200 },
  );
});

test('decodeLogObject(encodeLogObject(entries)) returns the entries and where each one\'s data is', (t) => {
  checkProperty(
    t,
    fc.property(fc.array(arbitraryEntry, { maxLength: 40 }), (entries) => {
      const withData = entries.map((entry, index) => ({ addressBytes: entry.addressBytes, data: new Uint8Array(entry.sizeBytes).fill(index + 1) }));
      const bytes = encodeLogObject(withData);
      assert.equal(bytes.byteLength, HEADER_SIZE_BYTES + logDataLengthBytes(entries));
      const decoded = decodeLogObject(bytes, CONTEXT);
      assert.deepEqual(decoded.entries, entries);
      decoded.dataOffsetsBytes.forEach((offsetBytes, index) => {
        assert.equal(bytes[offsetBytes], (index + 1) & 0xff);
        assert.equal(bytes[offsetBytes + (entries[index]?.sizeBytes ?? 0) - 1], (index + 1) & 0xff);
      });
    }),
    { numRuns: 100 },
  );
});

function decodesOrThrowsLogFormatError(bytes: Uint8Array, volumeSizeBytes: number): boolean {
  try {
    decodeLogObject(bytes, { objectKey: KEY, volumeSizeBytes });
    return true;
  } catch (error) {
    return error instanceof LogFormatError && error.objectKey === KEY;
  }
}

test('decoding random bytes returns or throws only LogFormatError', (t) => {
  const sparseHeader = fc
    .array(fc.tuple(fc.integer({ min: 0, max: HEADER_SIZE_BYTES + 8191 }), fc.integer({ min: 0, max: 255 })), { maxLength: 64 })
    .chain((writes) =>
      fc.integer({ min: 0, max: HEADER_SIZE_BYTES + 8192 }).map((lengthBytes) => {
        const bytes = new Uint8Array(lengthBytes);
        for (const [offsetBytes, value] of writes) if (offsetBytes < lengthBytes) bytes[offsetBytes] = value;
        return bytes;
      }),
    );
  const noise = fc.uint8Array({ minLength: 0, maxLength: HEADER_SIZE_BYTES + 4096 });
  checkProperty(
    t,
    fc.property(fc.oneof(sparseHeader, noise), fc.constantFrom(0, 4096, VOLUME_SIZE_BYTES, VOLUME_SIZE_MAX_BYTES), (bytes, volumeSizeBytes) =>
      decodesOrThrowsLogFormatError(bytes, volumeSizeBytes),
    ),
    { numRuns: 300 },
  );
});

test('decoding mutated valid objects returns or throws only LogFormatError', (t) => {
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), offsetBytes: fc.oneof(fc.integer({ min: 0, max: 48 }), fc.nat()), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('truncate' as const), lengthBytes: fc.nat() }),
    fc.record({ kind: fc.constant('append' as const), lengthBytes: fc.integer({ min: 1, max: 8192 }) }),
  );
  checkProperty(
    t,
    fc.property(fc.array(arbitraryEntry, { minLength: 1, maxLength: 8 }), fc.array(mutation, { minLength: 1, maxLength: 6 }), (entries, mutations) => {
      let bytes = encodeLogObject(entries.map((entry) => ({ addressBytes: entry.addressBytes, data: new Uint8Array(entry.sizeBytes) })));
      for (const change of mutations) {
        if (change.kind === 'set') bytes[change.offsetBytes % Math.max(bytes.byteLength, 1)] = change.value;
        if (change.kind === 'truncate') bytes = bytes.subarray(0, change.lengthBytes % (bytes.byteLength + 1));
        if (change.kind === 'append') {
          const longer = new Uint8Array(bytes.byteLength + change.lengthBytes);
          longer.set(bytes);
          bytes = longer;
        }
      }
      return decodesOrThrowsLogFormatError(bytes, VOLUME_SIZE_BYTES);
    }),
    { numRuns: 300 },
  );
});
