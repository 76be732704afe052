import test from 'ava';

test('the toolchain runs TypeScript tests', (t) => {
  const value: number = 1;
  t.is(value + 1, 2);
});
