import test from 'ava';
import { readFileSync } from 'node:fs';
import { errorLines, fixtureBytes, volumeDirectory } from './harness.js';
import { spawnLsvd } from './spawn.js';

const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

test('lsvd --version prints the package.json version and exits 0', async (t) => {
  const run = await spawnLsvd(['--version']);
  t.is(run.exitCode, 0);
  t.is(run.stdout, `${PACKAGE_VERSION}\n`);
});

test('lsvd --help lists the commands and environment variables on stdout and exits 0', async (t) => {
  const run = await spawnLsvd(['--help']);
  t.is(run.exitCode, 0);
  for (const expected of ['ls', 'inspect', 'LSVD_STORE', 'BUCKET_NAME', 'FLY_LSVD_S3_BUCKET', 'AWS_ENDPOINT_URL_S3', 'Exit codes']) {
    t.true(run.stdout.includes(expected), expected);
  }
  t.is(run.stderr, '');
});

test('an unknown store scheme exits 2 with one line on stderr', async (t) => {
  const run = await spawnLsvd(['ls', '--store', 'gs://bucket/']);
  t.is(run.exitCode, 2);
  t.is(run.stdout, '');
  t.deepEqual(errorLines(run.stderr), [
    'error: --store scheme "gs:" is not supported; use s3://bucket/prefix/, file:///path, a directory path, or memory: [ERR_CLI_USAGE]',
  ]);
});

test('an s3 store without a bucket name exits 2, and so does no store at all', async (t) => {
  const noBucket = await spawnLsvd(['ls', '--store', 's3:///vol1/']);
  t.is(noBucket.exitCode, 2);
  t.is(errorLines(noBucket.stderr).length, 1);
  const noStore = await spawnLsvd(['ls']);
  t.is(noStore.exitCode, 2);
  t.regex(noStore.stderr, /^error: no store configured/);
});

test('an unknown command or option exits 2 with one line', async (t) => {
  const run = await spawnLsvd(['lss']);
  t.is(run.exitCode, 2);
  t.deepEqual(errorLines(run.stderr), ["error: unknown command 'lss' (Did you mean ls?)"]);
});

test('a malformed object exits 1 with one line naming the key, from LSVD_STORE', async (t) => {
  const directory = volumeDirectory(t, { '0000000000000001': fixtureBytes('single-entry.bin').subarray(0, 12_288 + 100) });
  const run = await spawnLsvd(['inspect', '1'], { LSVD_STORE: directory });
  t.is(run.exitCode, 1);
  t.deepEqual(errorLines(run.stderr), ['error: Cannot decode log object "0000000000000001": data is 100 bytes, header says 4096 [ERR_LOG_DATA_LENGTH]']);
});

test('ls of a healthy volume exits 0 and writes the listing to stdout', async (t) => {
  const directory = volumeDirectory(t, { '0000000000000001': fixtureBytes('single-entry.bin'), 'volume.json': fixtureBytes('volume.json') });
  const run = await spawnLsvd(['ls', '--store', `file://${directory}`]);
  t.is(run.exitCode, 0, run.stderr);
  t.regex(run.stdout, /log objects: 1, no gaps/);
});
