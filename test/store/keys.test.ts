/**
 * Key validation and the one key order (UTF-8 bytes, as S3 lists).
 */
import test from 'ava';
import fc from 'fast-check';
import { compareKeys, KEY_MAX_BYTES, validateKey } from '../../store/keys.js';

test('the keys lsvd uses are valid', (t) => {
  for (const key of ['0000000000000001', 'archive/0000000000000001', 'zeros/00000000000000ff', 'probe/abc-123', 'volume.json', 'a'.repeat(KEY_MAX_BYTES)]) {
    t.notThrows(() => validateKey(key), key.slice(0, 30));
  }
});

test('malformed keys are refused with ERR_STORE_INVALID_KEY naming the key', (t) => {
  for (const key of ['', '/abs', 'trail/', 'a//b', '.', '..', 'a/./b', 'a/../b', '.lsvd-tmp/x', 'a/.b', 'a'.repeat(KEY_MAX_BYTES + 1), 'nul\0', 'lone\uDC00']) {
    const error = t.throws(() => validateKey(key), { code: 'ERR_STORE_INVALID_KEY' });
    t.is((error as { key?: unknown } | undefined)?.key, key);
  }
});

test('the byte limit counts UTF-8 bytes, not characters', (t) => {
  t.notThrows(() => validateKey('é'.repeat(KEY_MAX_BYTES / 2)));
  t.throws(() => validateKey(`${'é'.repeat(KEY_MAX_BYTES / 2)}x`), { code: 'ERR_STORE_INVALID_KEY' });
});

test('compareKeys orders any two strings exactly as their UTF-8 bytes compare', (t) => {
  const seed = Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31);
  t.log(`fast-check seed ${seed} (replay with FC_SEED=${seed})`);
  // Few, tricky characters make long shared prefixes; 'binary' covers every code point.
  const tricky = fc.array(fc.constantFrom('a', '-', '/', '0', 'é', '\uD7FF', '\uE000', '\uFF01', '\uFFFD', '😀', '\u{10FFFF}'), { maxLength: 8 }).map((units) => units.join(''));
  const key = fc.oneof(tricky, fc.string({ unit: 'binary', maxLength: 12 }));
  fc.assert(
    fc.property(key, key, (left, right) => {
      const expected = Math.sign(Buffer.compare(Buffer.from(left), Buffer.from(right)));
      return Math.sign(compareKeys(left, right)) === expected;
    }),
    { seed, numRuns: 5_000 },
  );
  t.true(compareKeys('\uFF01', '😀') < 0, 'U+FF01 sorts before U+1F600 in UTF-8 though not in UTF-16');
  t.true(compareKeys('a-c', 'a/b') < 0 && compareKeys('a/b', 'a0') < 0);
});
