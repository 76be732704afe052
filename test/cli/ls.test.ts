import test from 'ava';
import { encodeLogObject } from '../../logformat/log-object.js';
import { errorLines, fixtureBytes, runLsvd, volumeDirectory } from './harness.js';

function healthyVolume(): Record<string, Uint8Array | string> {
  return {
    'volume.json': fixtureBytes('volume.json'),
    '0000000000000001': fixtureBytes('single-entry.bin'),
    '0000000000000002': fixtureBytes('out-of-order.bin'),
    'zeros/0000000000000002': fixtureBytes('zeros-0000000000000002.bin'),
    '0000000000000003': fixtureBytes('terminator-in-middle.bin'),
  };
}

test('ls lists every log object in sequence order with its size, entry count, data bytes and zero ranges', async (t) => {
  const directory = volumeDirectory(t, healthyVolume());
  const run = await runLsvd(['ls', '--store', directory]);
  t.is(run.exitCode, 0, run.stderr);
  const rows = run.stdout.split('\n').filter((line) => /^\s+\d+\s+[0-9a-f]{16}\s/.test(line));
  t.deepEqual(
    rows.map((line) => line.trim().split(/\s+/)),
    [
      ['1', '0000000000000001', '16384', '1', '4096', '-'],
      ['2', '0000000000000002', '28672', '3', '16384', '2'],
      ['3', '0000000000000003', '32768', '3', '20480', '-'],
    ],
  );
  t.regex(run.stdout, /volume: b3f6c1de-2a4f-4c51-9a8e-0d7f1e2c3b4a, 8589934592 bytes/);
  t.regex(run.stdout, /log objects: 3, no gaps/);
  t.regex(run.stdout, /zero-range companions: 1\n/);
  t.false(run.stdout.includes('-- gap'));
});

test('ls flags each gap with the missing keys and says what recovery would replay', async (t) => {
  const directory = volumeDirectory(t, {
    '0000000000000002': fixtureBytes('single-entry.bin'),
    '0000000000000004': fixtureBytes('single-entry.bin'),
    '0000000000000008': fixtureBytes('single-entry.bin'),
  });
  const run = await runLsvd(['ls', '--store', directory]);
  t.is(run.exitCode, 0, run.stderr);
  const lines = run.stdout.split('\n');
  const gapLines = lines.filter((line) => line.startsWith('-- gap'));
  t.deepEqual(gapLines, [
    '-- gap: 0000000000000001 missing --',
    '-- gap: 0000000000000003 missing --',
    '-- gap: 0000000000000005..0000000000000007 missing --',
  ]);
  const gapIndex = lines.indexOf('-- gap: 0000000000000005..0000000000000007 missing --');
  t.regex(lines[gapIndex - 1] ?? '', /0000000000000004/);
  t.regex(lines[gapIndex + 1] ?? '', /0000000000000008/);
  t.regex(run.stdout, /5 missing in 3 gap\(s\), recovery replays nothing and archives the 3 after the first gap/);
  t.regex(run.stdout, /volume\.json: absent/);
});

test('ls --json gives the same listing for machines', async (t) => {
  const volume = healthyVolume();
  delete volume['0000000000000002'];
  const directory = volumeDirectory(t, volume);
  const run = await runLsvd(['ls', '--json', '--store', directory]);
  t.is(run.exitCode, 0, run.stderr);
  const listing = JSON.parse(run.stdout) as Record<string, unknown>;
  t.like(listing, {
    descriptor: { volumeId: 'b3f6c1de-2a4f-4c51-9a8e-0d7f1e2c3b4a', sizeBytes: 8589934592 },
    gaps: [{ firstSequence: 2, lastSequence: 2 }],
    replayableThroughSequence: 1,
    zeroRangeKeys: ['zeros/0000000000000002'],
    zeroRangeKeysWithoutLogObject: ['zeros/0000000000000002'],
    unknownKeys: [],
  });
  t.deepEqual(listing['logObjects'], [
    { sequence: 1, key: '0000000000000001', sizeBytes: 16384, entryCount: 1, dataBytes: 4096 },
    { sequence: 3, key: '0000000000000003', sizeBytes: 32768, entryCount: 3, dataBytes: 20480 },
  ]);
});

test('ls summarises the other keys and warns about each unknown key on stderr', async (t) => {
  const directory = volumeDirectory(t, {
    ...healthyVolume(),
    'lease.json': '{}',
    'archive/b1/0000000000000009': fixtureBytes('single-entry.bin'),
    'archive/b1/zeros/0000000000000009': fixtureBytes('zeros-0000000000000002.bin'),
    'checkpoints/0000000000000002': 'reserved',
    'zeros/0000000000000007': fixtureBytes('zeros-0000000000000002.bin'),
    'notes.txt': 'operator notes',
    '000000000000000A': 'uppercase is not a log key',
  });
  const run = await runLsvd(['ls', '--store', directory]);
  t.is(run.exitCode, 0, run.stderr);
  t.regex(run.stdout, /zero-range companions: 2, 1 without a log object \(zeros\/0000000000000007\)/);
  t.regex(run.stdout, /archived objects: 2/);
  t.regex(run.stdout, /lease\.json: present/);
  t.regex(run.stdout, /checkpoints: 1/);
  t.regex(run.stdout, /unknown keys: 2 \("000000000000000A", "notes\.txt"\)/);
  const warnings = run.stderr.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { level: number; key: string });
  t.deepEqual(warnings.map((warning) => [warning.level, warning.key]), [[40, '000000000000000A'], [40, 'notes.txt']]);
});

test('ls lists a malformed object with its code, lists everything else, and exits 1 naming the key', async (t) => {
  const truncated = fixtureBytes('out-of-order.bin').subarray(0, 20_000);
  const directory = volumeDirectory(t, { ...healthyVolume(), '0000000000000002': truncated });
  const run = await runLsvd(['ls', '--store', directory]);
  t.is(run.exitCode, 1);
  t.regex(run.stdout, /0000000000000002\s+20000\s+-\s+-\s+-\s+ERR_LOG_DATA_LENGTH in 0000000000000002/);
  t.regex(run.stdout, /0000000000000003\s+32768\s+3/);
  t.regex(run.stdout, /recovery stops at 0000000000000002/);
  t.deepEqual(errorLines(run.stderr), ['error: 1 object(s) could not be decoded: 0000000000000002 (ERR_LOG_DATA_LENGTH) [ERR_CLI_CORRUPT_OBJECTS]']);
});

test('ls checks entries against the volume size in volume.json', async (t) => {
  const pastEnd = encodeLogObject([{ addressBytes: 8 * 1024 ** 3, data: new Uint8Array(4096) }]);
  const directory = volumeDirectory(t, { 'volume.json': fixtureBytes('volume.json'), '0000000000000001': pastEnd });
  const run = await runLsvd(['ls', '--store', directory]);
  t.is(run.exitCode, 1);
  t.regex(run.stdout, /ERR_LOG_ENTRY_PAST_VOLUME_END in 0000000000000001/);
});

test('ls reports a corrupt companion and a corrupt volume.json by key', async (t) => {
  const directory = volumeDirectory(t, { ...healthyVolume(), 'volume.json': '{"formatVersion": 9}', 'zeros/0000000000000002': 'LSVDZERO' });
  const run = await runLsvd(['ls', '--store', directory]);
  t.is(run.exitCode, 1);
  t.regex(run.stdout, /volume\.json: ERR_DESCRIPTOR_INVALID/);
  t.regex(run.stdout, /ERR_ZERO_RANGES_INVALID in zeros\/0000000000000002/);
  t.deepEqual(errorLines(run.stderr), [
    'error: 2 object(s) could not be decoded: volume.json (ERR_DESCRIPTOR_INVALID), zeros/0000000000000002 (ERR_ZERO_RANGES_INVALID) [ERR_CLI_CORRUPT_OBJECTS]',
  ]);
});

test('ls of an empty memory: store lists nothing and succeeds', async (t) => {
  const run = await runLsvd(['ls', '--store', 'memory:']);
  t.is(run.exitCode, 0, run.stderr);
  t.regex(run.stdout, /log objects: none/);
});

test('ls of a directory that does not exist exits 1 and creates nothing', async (t) => {
  const parent = volumeDirectory(t, {});
  const run = await runLsvd(['ls', '--store', `${parent}/missing`]);
  t.is(run.exitCode, 1);
  t.deepEqual(errorLines(run.stderr), [`error: no volume directory at ${parent}/missing [ERR_CLI_STORE_MISSING]`]);
});

test('ls reads the store from LSVD_STORE and resolves a relative directory against the working directory', async (t) => {
  const directory = volumeDirectory(t, healthyVolume());
  const run = await runLsvd(['ls'], { env: { LSVD_STORE: 'volume' }, cwd: `${directory}/..` });
  t.is(run.exitCode, 1, 'the relative path names a directory that does not exist');
  const relative = directory.split('/').at(-1) ?? '';
  const found = await runLsvd(['ls'], { env: { LSVD_STORE: relative }, cwd: `${directory}/..` });
  t.is(found.exitCode, 0, found.stderr);
  t.regex(found.stdout, /log objects: 3/);
});
