import test from 'ava';
import { errorLines, fixtureBytes, fixturePath, runLsvd, volumeDirectory } from './harness.js';

function tableRows(stdout: string): string[][] {
  return stdout
    .split('\n')
    .filter((line) => /^\s*\d+(\s+\d+)+$/.test(line))
    .map((line) => line.trim().split(/\s+/));
}

test('inspect <sequence> prints each entry\'s index, address, size and data offset, then the companion\'s zero ranges', async (t) => {
  const directory = volumeDirectory(t, {
    'volume.json': fixtureBytes('volume.json'),
    '0000000000000002': fixtureBytes('out-of-order.bin'),
    'zeros/0000000000000002': fixtureBytes('zeros-0000000000000002.bin'),
  });
  const run = await runLsvd(['inspect', '--store', directory, '2']);
  t.is(run.exitCode, 0, run.stderr);
  t.regex(run.stdout, /^log object 0000000000000002 \(sequence 2\) in file:\/\/\S+: 28672 bytes, 3 entries, 16384 data bytes$/m);
  t.deepEqual(tableRows(run.stdout), [
    ['0', '12288', '4096', '12288'],
    ['1', '0', '8192', '16384'],
    ['2', '40960', '4096', '24576'],
    ['0', '0', '8192'],
    ['1', '4294967296', '1048576'],
  ]);
  t.regex(run.stdout, /zero ranges zeros\/0000000000000002: 2, applied before the entries/);
});

test('inspect accepts the sequence as a 16-hex-digit key and prints JSON with --json', async (t) => {
  const directory = volumeDirectory(t, { '000000000000001a': fixtureBytes('single-entry.bin') });
  const run = await runLsvd(['inspect', '--json', '--store', directory, '000000000000001a']);
  t.is(run.exitCode, 0, run.stderr);
  const report = JSON.parse(run.stdout) as Record<string, unknown>;
  t.like(report, { kind: 'log', key: '000000000000001a', sequence: 26, sizeBytes: 16384, dataBytes: 4096 });
  t.deepEqual(report['entries'], [{ index: 0, addressBytes: 5368721408, sizeBytes: 4096, dataOffsetBytes: 12288 }]);
  t.false('zeroRanges' in report);
});

test('inspect <file> decodes a local log object', async (t) => {
  const run = await runLsvd(['inspect', fixturePath('terminator-in-middle.bin')]);
  t.is(run.exitCode, 0, run.stderr);
  t.deepEqual(tableRows(run.stdout), [
    ['0', '4096', '4096', '12288'],
    ['1', '65536', '12288', '16384'],
    ['2', '16384', '4096', '28672'],
  ]);
});

test('inspect <file> recognises a zero-ranges companion by its magic and a descriptor by its .json name', async (t) => {
  const zeros = await runLsvd(['inspect', '--json', fixturePath('zeros-0000000000000002.bin')]);
  t.is(zeros.exitCode, 0, zeros.stderr);
  t.like(JSON.parse(zeros.stdout), { kind: 'zero-ranges', ranges: [{ addressBytes: 0, sizeBytes: 8192 }, { addressBytes: 4294967296, sizeBytes: 1048576 }] });
  const descriptor = await runLsvd(['inspect', '--json', fixturePath('volume.json')]);
  t.is(descriptor.exitCode, 0, descriptor.stderr);
  t.like(JSON.parse(descriptor.stdout), { kind: 'descriptor', descriptor: { sizeBytes: 8589934592 } });
});

test('inspect of a malformed object prints one line naming the key and the code, and exits 1', async (t) => {
  const directory = volumeDirectory(t, { '0000000000000003': fixtureBytes('out-of-order.bin').subarray(0, 20_000) });
  const run = await runLsvd(['inspect', '--store', directory, '3']);
  t.is(run.exitCode, 1);
  t.is(run.stdout, '');
  t.deepEqual(errorLines(run.stderr), ['error: Cannot decode log object "0000000000000003": data is 7712 bytes, header says 16384 [ERR_LOG_DATA_LENGTH]']);
});

test('inspect of a malformed local file names the file and the code, and exits 1', async (t) => {
  const directory = volumeDirectory(t, { 'short.bin': new Uint8Array(100) });
  const run = await runLsvd(['inspect', `${directory}/short.bin`]);
  t.is(run.exitCode, 1);
  const lines = errorLines(run.stderr);
  t.is(lines.length, 1);
  t.regex(lines[0] ?? '', /short\.bin.*\[ERR_LOG_HEADER_TRUNCATED\]$/);
});

test('inspect checks entries against --volume-size', async (t) => {
  const run = await runLsvd(['inspect', '--volume-size', '1GiB', fixturePath('single-entry.bin')]);
  t.is(run.exitCode, 1);
  t.regex(errorLines(run.stderr)[0] ?? '', /\[ERR_LOG_ENTRY_PAST_VOLUME_END\]$/);
});

test('inspect of a missing object or file exits 1 with one line', async (t) => {
  const directory = volumeDirectory(t, {});
  const missingObject = await runLsvd(['inspect', '--store', directory, '7']);
  t.is(missingObject.exitCode, 1);
  t.deepEqual(errorLines(missingObject.stderr), [`error: log object 0000000000000007 (sequence 7) does not exist in file://${directory} [ERR_CLI_OBJECT_MISSING]`]);
  const missingFile = await runLsvd(['inspect', `${directory}/nothing.bin`]);
  t.is(missingFile.exitCode, 1);
  t.deepEqual(errorLines(missingFile.stderr), [`error: cannot read ${directory}/nothing.bin: ENOENT [ERR_CLI_FILE_UNREADABLE]`]);
});

test('inspect refuses a bad sequence, a sequence without a store, and --store with a file, with exit 2', async (t) => {
  for (const args of [['inspect', '--store', 'memory:', '0'], ['inspect', '5'], ['inspect', '--store', 'memory:', 'object.bin'], ['inspect', '--volume-size', 'lots', 'x.bin']]) {
    const run = await runLsvd(args);
    t.is(run.exitCode, 2, args.join(' '));
    t.regex(errorLines(run.stderr).join('\n'), /^error: .*\[ERR_CLI_USAGE\]$/, args.join(' '));
  }
});
