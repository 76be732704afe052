import test from 'ava';
import fc from 'fast-check';
import { decodeVolumeDescriptor, encodeVolumeDescriptor, VOLUME_FORMAT_VERSION } from '../../logformat/volume-descriptor.js';
import type { VolumeDescriptor } from '../../logformat/volume-descriptor.js';
import { LogFormatError } from '../../logformat/errors.js';
import { SECTOR_SIZE_BYTES, VOLUME_DESCRIPTOR_SIZE_MAX_BYTES, VOLUME_SIZE_MAX_BYTES } from '../../logformat/limits.js';
import { checkProperty } from './property.js';

const CONTEXT = { objectKey: 'volume.json' };
const VALID: VolumeDescriptor = {
  formatVersion: 1,
  volumeId: 'vol-1',
  sizeBytes: 1024 * 1024 * 1024,
  sectorSizeBytes: SECTOR_SIZE_BYTES,
  createdAt: '2024-05-01T12:00:00.000Z',
};

function jsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

test('the descriptor is human-readable JSON with a trailing newline', (t) => {
  const text = new TextDecoder().decode(encodeVolumeDescriptor(VALID));
  t.true(text.startsWith('{\n  "formatVersion": 1,\n  "volumeId": "vol-1",'));
  t.true(text.endsWith('}\n'));
});

test('decode ignores fields it does not know, so later writers can add them', (t) => {
  const descriptor = decodeVolumeDescriptor(jsonBytes({ ...VALID, label: 'db' }), CONTEXT);
  t.deepEqual(descriptor, VALID);
});

const invalidCases: [string, Uint8Array][] = [
  ['bad JSON', new TextEncoder().encode('{"formatVersion": 1,')],
  ['invalid UTF-8', new Uint8Array([0x7b, 0xff, 0x7d])],
  ['a JSON array', jsonBytes([VALID])],
  ['JSON null', jsonBytes(null)],
  ['an unknown format version', jsonBytes({ ...VALID, formatVersion: 2 })],
  ['a missing format version', jsonBytes({ ...VALID, formatVersion: undefined })],
  ['an empty volume id', jsonBytes({ ...VALID, volumeId: '' })],
  ['a volume id with a slash', jsonBytes({ ...VALID, volumeId: 'a/b' })],
  ['a zero size', jsonBytes({ ...VALID, sizeBytes: 0 })],
  ['a size not a multiple of 4096', jsonBytes({ ...VALID, sizeBytes: 4097 })],
  ['a size above VOLUME_SIZE_MAX_BYTES', jsonBytes({ ...VALID, sizeBytes: VOLUME_SIZE_MAX_BYTES + SECTOR_SIZE_BYTES })],
  ['a size given as a string', jsonBytes({ ...VALID, sizeBytes: '4096' })],
  ['a sector size of 512', jsonBytes({ ...VALID, sectorSizeBytes: 512 })],
  ['a createdAt that is not a timestamp', jsonBytes({ ...VALID, createdAt: 'yesterday' })],
  ['a createdAt with an impossible date', jsonBytes({ ...VALID, createdAt: '2024-13-45T99:00:00Z' })],
  ['more than VOLUME_DESCRIPTOR_SIZE_MAX_BYTES', new Uint8Array(VOLUME_DESCRIPTOR_SIZE_MAX_BYTES + 1).fill(0x20)],
];

for (const [what, bytes] of invalidCases) {
  test(`decode rejects a descriptor with ${what}`, (t) => {
    const error = t.throws(() => decodeVolumeDescriptor(bytes, CONTEXT), { instanceOf: LogFormatError, code: 'ERR_DESCRIPTOR_INVALID' });
    t.is(error?.objectKey, 'volume.json');
    t.regex(error?.message ?? '', /"volume\.json"/);
  });
}

test('decodeVolumeDescriptor(encodeVolumeDescriptor(d)) is d', (t) => {
  const descriptor = fc.record({
    formatVersion: fc.constant(VOLUME_FORMAT_VERSION as 1),
    volumeId: fc.stringMatching(/^[0-9A-Za-z._:-]{1,128}$/),
    sizeBytes: fc.integer({ min: 1, max: VOLUME_SIZE_MAX_BYTES / SECTOR_SIZE_BYTES }).map((sectors) => sectors * SECTOR_SIZE_BYTES),
    sectorSizeBytes: fc.constant(SECTOR_SIZE_BYTES),
    createdAt: fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }).map((date) => date.toISOString()),
  });
  checkProperty(
    t,
    fc.property(descriptor, (value) => JSON.stringify(decodeVolumeDescriptor(encodeVolumeDescriptor({ ...value }), CONTEXT)) === JSON.stringify(value)),
    { numRuns: 300 },
  );
});

test('decoding arbitrary JSON or bytes returns or throws only LogFormatError', (t) => {
  const candidate = fc.oneof(
    fc.jsonValue().map((value) => jsonBytes(value)),
    fc.record({ formatVersion: fc.jsonValue(), volumeId: fc.jsonValue(), sizeBytes: fc.jsonValue(), sectorSizeBytes: fc.jsonValue(), createdAt: fc.jsonValue() }).map(jsonBytes),
    fc.uint8Array({ maxLength: 64 }),
  );
  checkProperty(
    t,
    fc.property(candidate, (bytes) => {
      try {
        decodeVolumeDescriptor(bytes, CONTEXT);
        return true;
      } catch (error) {
        return error instanceof LogFormatError && error.code === 'ERR_DESCRIPTOR_INVALID';
      }
    }),
    { numRuns: 500 },
  );
});
