import test from 'ava';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decodeLogObject, encodeLogObject } from '../../logformat/log-object.js';
import { decodeVolumeDescriptor, encodeVolumeDescriptor } from '../../logformat/volume-descriptor.js';
import { decodeZeroRanges, encodeZeroRanges } from '../../logformat/zero-ranges.js';
import { HEADER_ENTRY_SIZE_BYTES, HEADER_SIZE_BYTES } from '../../logformat/limits.js';

// Golden fixtures written once by test/fixtures/generate.ts; the bytes must decode as the
// hand-written expectations say, forever.

const FIXTURES = new URL('../fixtures/log-objects/', import.meta.url);

interface ExpectedEntry {
  addressBytes: number;
  sizeBytes: number;
  fillByte: number;
}

interface ExpectedLogObject {
  sha256: string;
  volumeSizeBytes: number;
  objectSizeBytes: number;
  entries?: ExpectedEntry[];
  dataOffsetsBytes?: number[];
  terminatorIndex?: number;
  entryPattern?: {
    count: number;
    addressStrideBytes: number;
    sizeBytes: number;
    fillByteModulus: number;
    fillByteOffset: number;
    firstDataOffsetBytes: number;
  };
}

function readFixture(name: string): Uint8Array {
  return new Uint8Array(readFileSync(fileURLToPath(new URL(name, FIXTURES))));
}

function readExpectation<T>(name: string): T {
  return JSON.parse(readFileSync(fileURLToPath(new URL(name, FIXTURES)), 'utf8')) as T;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function expandedEntries(expected: ExpectedLogObject): { entries: ExpectedEntry[]; dataOffsetsBytes: number[] } {
  const pattern = expected.entryPattern;
  if (pattern === undefined) return { entries: expected.entries ?? [], dataOffsetsBytes: expected.dataOffsetsBytes ?? [] };
  const entries = Array.from({ length: pattern.count }, (_, index) => ({
    addressBytes: index * pattern.addressStrideBytes,
    sizeBytes: pattern.sizeBytes,
    fillByte: (index % pattern.fillByteModulus) + pattern.fillByteOffset,
  }));
  const dataOffsetsBytes = entries.map((_, index) => pattern.firstDataOffsetBytes + index * pattern.sizeBytes);
  return { entries, dataOffsetsBytes };
}

function isFilledWith(bytes: Uint8Array, fillByte: number): boolean {
  return bytes.every((byte) => byte === fillByte);
}

for (const name of ['empty', 'single-entry', 'full-1024-entries', 'out-of-order', 'terminator-in-middle']) {
  test(`the golden log object "${name}" decodes to its hand-written expectation and re-encodes to the same bytes`, (t) => {
    const bytes = readFixture(`${name}.bin`);
    const expected = readExpectation<ExpectedLogObject>(`${name}.expected.json`);
    t.is(sha256(bytes), expected.sha256, 'the committed fixture bytes changed');
    t.is(bytes.byteLength, expected.objectSizeBytes);
    const { entries, dataOffsetsBytes } = expandedEntries(expected);

    const decoded = decodeLogObject(bytes, { objectKey: name, volumeSizeBytes: expected.volumeSizeBytes });

    t.deepEqual(decoded.entries, entries.map(({ addressBytes, sizeBytes }) => ({ addressBytes, sizeBytes })));
    t.deepEqual(decoded.dataOffsetsBytes, dataOffsetsBytes);
    entries.forEach((entry, index) => {
      const offsetBytes = dataOffsetsBytes[index] ?? -1;
      const data = bytes.subarray(offsetBytes, offsetBytes + entry.sizeBytes);
      t.true(isFilledWith(data, entry.fillByte), `entry ${index} data is not filled with ${entry.fillByte}`);
    });
    if (expected.terminatorIndex !== undefined) {
      const tail = bytes.subarray(expected.terminatorIndex * HEADER_ENTRY_SIZE_BYTES, HEADER_SIZE_BYTES);
      t.true(isFilledWith(tail, 0), 'the header after the terminator is not all zero');
    }
    const reencoded = encodeLogObject(
      entries.map((entry) => ({ addressBytes: entry.addressBytes, data: new Uint8Array(entry.sizeBytes).fill(entry.fillByte) })),
    );
    t.is(sha256(reencoded), expected.sha256);
  });
}

test('the golden zero-ranges companion decodes to its hand-written ranges and re-encodes to the same bytes', (t) => {
  const bytes = readFixture('zeros-0000000000000002.bin');
  const expected = readExpectation<{ sha256: string; volumeSizeBytes: number; ranges: { addressBytes: number; sizeBytes: number }[] }>(
    'zeros-0000000000000002.expected.json',
  );
  t.is(sha256(bytes), expected.sha256, 'the committed fixture bytes changed');
  const ranges = decodeZeroRanges(bytes, { objectKey: 'zeros/0000000000000002', volumeSizeBytes: expected.volumeSizeBytes });
  t.deepEqual(ranges, expected.ranges);
  t.is(sha256(encodeZeroRanges(ranges)), expected.sha256);
});

test('the golden volume.json decodes to its hand-written descriptor and re-encodes to the same bytes', (t) => {
  const bytes = readFixture('volume.json');
  const expected = readExpectation<{ sha256: string; descriptor: Parameters<typeof encodeVolumeDescriptor>[0] }>('volume.expected.json');
  t.is(sha256(bytes), expected.sha256, 'the committed fixture bytes changed');
  const descriptor = decodeVolumeDescriptor(bytes, { objectKey: 'volume.json' });
  t.deepEqual(descriptor, expected.descriptor);
  t.is(sha256(encodeVolumeDescriptor(descriptor)), expected.sha256);
});
