import test from 'ava';
import { looksLikeSequence, parseSequence, parseSizeBytes } from '../../cli/parse.js';

test('sizes are bytes, or binary multiples with K/M/G/T or KiB/MiB/GiB/TiB', (t) => {
  t.is(parseSizeBytes('4096', '--size'), 4096);
  t.is(parseSizeBytes('8G', '--size'), 8 * 2 ** 30);
  t.is(parseSizeBytes('8GiB', '--size'), 8 * 2 ** 30);
  t.is(parseSizeBytes('3 mib', '--size'), 3 * 2 ** 20);
  t.is(parseSizeBytes('1T', '--size'), 2 ** 40);
});

test('malformed or oversized sizes are usage errors', (t) => {
  for (const text of ['', '-1', '1.5G', '10X', 'G', '99999999999T']) {
    t.throws(() => parseSizeBytes(text, '--size'), { code: 'ERR_CLI_USAGE' }, text);
  }
});

test('a sequence is decimal or a 16-hex-digit key, within the sequence range', (t) => {
  t.is(parseSequence('42', 'sequence'), 42);
  t.is(parseSequence('000000000000002a', 'sequence'), 42);
  for (const text of ['0', '-1', '2a', '9007199254740992', '000000000000002A']) {
    t.throws(() => parseSequence(text, 'sequence'), { code: 'ERR_CLI_USAGE' }, text);
  }
});

test('arguments that look like a sequence are digits or a log key; anything else is a file', (t) => {
  t.true(looksLikeSequence('17'));
  t.true(looksLikeSequence('0000000000000011'));
  t.false(looksLikeSequence('./17'));
  t.false(looksLikeSequence('object.bin'));
});
