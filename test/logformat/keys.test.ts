import test from 'ava';
import fc from 'fast-check';
import {
  classifyKey,
  formatArchiveKey,
  formatCheckpointKey,
  formatLogKey,
  formatZeroRangesKey,
  parseLogKey,
  tryParseLogKey,
} from '../../logformat/keys.js';
import { SEQUENCE_MAX } from '../../logformat/limits.js';
import type { LogFormatError } from '../../logformat/errors.js';
import { checkProperty } from './property.js';

test('a log key is the sequence number in 16 lowercase hex digits', (t) => {
  t.is(formatLogKey(1), '0000000000000001');
  t.is(formatLogKey(0xabc), '0000000000000abc');
  t.is(formatLogKey(SEQUENCE_MAX), '001fffffffffffff');
});

test('formatting refuses sequence 0, negatives, fractions and numbers past SEQUENCE_MAX', (t) => {
  for (const sequence of [0, -1, 1.5, SEQUENCE_MAX + 1, Number.NaN]) {
    t.throws(() => formatLogKey(sequence), { code: 'ERR_ASSERTION' }, `sequence ${sequence}`);
  }
});

test('parseLogKey rejects uppercase, wrong lengths, zero, prefixes and numbers past SEQUENCE_MAX', (t) => {
  const invalid = ['000000000000000A', '000000000000001', '00000000000000001', '0000000000000000', 'vol/0000000000000001', ' 0000000000000001', '0020000000000000', 'ffffffffffffffff', '', 'volume.json'];
  for (const key of invalid) {
    const error = t.throws<LogFormatError>(() => parseLogKey(key), { code: 'ERR_KEY_INVALID' }, `key ${JSON.stringify(key)}`);
    t.is(error?.objectKey, key);
    t.is(tryParseLogKey(key), undefined);
  }
});

test('parseLogKey(formatLogKey(n)) is n, and key order is numeric order', (t) => {
  checkProperty(
    t,
    fc.property(fc.integer({ min: 1, max: SEQUENCE_MAX }), fc.integer({ min: 1, max: SEQUENCE_MAX }), (first, second) => {
      const firstKey = formatLogKey(first);
      const secondKey = formatLogKey(second);
      return parseLogKey(firstKey) === first && Math.sign(first - second) === Math.sign(firstKey < secondKey ? -1 : firstKey > secondKey ? 1 : 0);
    }),
    { numRuns: 500 },
  );
});

test('companion, checkpoint and archive keys are built from their prefixes', (t) => {
  t.is(formatZeroRangesKey(2), 'zeros/0000000000000002');
  t.is(formatCheckpointKey(16), 'checkpoints/0000000000000010');
  t.is(formatArchiveKey({ batchId: '20240501T120000Z-3f', key: '0000000000000007' }), 'archive/20240501T120000Z-3f/0000000000000007');
  t.is(formatArchiveKey({ batchId: 'b1', key: 'zeros/0000000000000007' }), 'archive/b1/zeros/0000000000000007');
});

test('archive keys refuse batch ids outside [0-9A-Za-z._-] and absolute keys', (t) => {
  for (const batchId of ['', 'a/b', 'a b', '..', 'ü']) {
    t.throws(() => formatArchiveKey({ batchId, key: '0000000000000001' }), { code: 'ERR_ASSERTION' }, `batch ${batchId}`);
  }
  t.throws(() => formatArchiveKey({ batchId: 'b', key: '' }), { code: 'ERR_ASSERTION' });
  t.throws(() => formatArchiveKey({ batchId: 'b', key: '/0000000000000001' }), { code: 'ERR_ASSERTION' });
});

test('classifyKey names every key of the volume layout and calls the rest unknown', (t) => {
  t.deepEqual(classifyKey('0000000000000005'), { kind: 'log', sequence: 5 });
  t.deepEqual(classifyKey('zeros/0000000000000005'), { kind: 'zero-ranges', sequence: 5 });
  t.deepEqual(classifyKey('volume.json'), { kind: 'descriptor' });
  t.deepEqual(classifyKey('lease.json'), { kind: 'lease' });
  t.deepEqual(classifyKey('archive/b1/0000000000000009'), { kind: 'archive' });
  t.deepEqual(classifyKey('checkpoints/00000000000000ff'), { kind: 'checkpoint', sequence: 255 });
  t.deepEqual(classifyKey('probe/if-none-match-1234'), { kind: 'probe' });
  for (const key of ['000000000000000F', 'zeros/0000000000000000', 'zeros/abc', 'checkpoints/latest', 'notes.txt', 'Volume.json', '0000000000000005.tmp']) {
    t.deepEqual(classifyKey(key), { kind: 'unknown' }, `key ${key}`);
  }
});
